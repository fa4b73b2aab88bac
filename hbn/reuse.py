"""What earlier training a run can reuse instead of repeating it: whether a run folder holds a
finished run of exactly a configuration (`finished`, `same_experiment`), and AG-HBN variants
that differ only in post-training (eqs. 8-11), forked from a run's joint-training checkpoint
(`fork_post_training`). `hbn.train.train_or_reuse` reuses, resumes or trains on this basis.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from . import runs
from .config import RunConfig
from .identity import config_differences

JOINT_CHECKPOINT = "checkpoint-joint.pt"  # AG-HBN at the end of joint training


def differing_fields(a: RunConfig, b: RunConfig) -> list[str]:
    """'name: a vs b' for each field where two configurations differ, fields that do not change
    what the run computes aside (`config.inert_fields`)."""
    return [f"{k}: {va!r} vs {vb!r}" for k, (va, vb) in config_differences(a, b).items()]


def same_experiment(a: RunConfig, b: RunConfig) -> bool:
    return not differing_fields(a, b)


def finished(cfg: RunConfig) -> bool:
    """True when the run folder of `cfg` holds a finished run of exactly `cfg`: its config,
    a log line for every epoch and its test records. Weights are not needed (never committed)."""
    out = runs.run_dir(cfg)
    return runs.finished_folder(out) and same_experiment(runs.load_config(out), cfg)


FORKABLE = ("post_mode", "post_lr", "sem_alpha", "sem_fine_weight", "post_epochs")


def fork_post_training(run: Path, log=print, **changes) -> Path:
    """An AG-HBN variant that differs only in its post-training settings (`FORKABLE`:
    `post_mode`, `post_lr`, `sem_alpha`, `sem_fine_weight`, and `post_epochs`, `epochs` following
    so that the joint phase keeps its length), started from `run`'s checkpoint at the end of
    joint training: the joint phase does not read these fields, so (on the CPU, bit for bit) it
    equals training the variant from scratch. Returns the variant's folder, ready to `--resume`."""
    if not changes or set(changes) - set(FORKABLE):
        raise ValueError(f"a post-training fork changes only {sorted(FORKABLE)}, got {sorted(changes)}")
    run = Path(run)
    src = runs.load_config(run)
    if "post_epochs" in changes:  # the same joint phase, a longer or shorter post-training
        changes["epochs"] = src.epochs - src.post_epochs + changes["post_epochs"]
    joint = run / JOINT_CHECKPOINT
    if src.model != "ag-hbn" or not joint.exists():
        raise FileNotFoundError(f"{joint} is missing: only an AG-HBN run that finished its joint "
                                f"phase with this version of hbn keeps it; train the variant in full")
    cfg = dataclasses.replace(src, **changes)
    out = runs.run_dir(cfg)
    if (out / "config.json").exists():
        raise FileExistsError(f"{out} already exists; resume it with `python -m hbn train ... --resume`")
    out.mkdir(parents=True)
    state = runs.load_checkpoint(joint, ("epoch", "post", "config", "model", "optimizer"))
    state["config"] = cfg.to_dict()
    runs.save_atomic(state, out / "checkpoint.pt")
    (out / "config.json").write_text(cfg.to_json())
    kept = [m for m in runs.read_metrics(run) if m["epoch"] <= state["epoch"]]
    (out / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in kept))
    meta = json.loads((run / "meta.json").read_text())
    runs.write_json(out / "meta.json", {**meta, "forked_from": str(run), "forked_at_epoch": state["epoch"]})
    log(f"forked {run} at epoch {state['epoch']} into {out}: "
        + ", ".join(f"{k} {getattr(src, k)} -> {v}" for k, v in changes.items()))
    return out


def fork_for(cfg: RunConfig, run: Path, log=print) -> Path:
    """Fork `run` (an AG-HBN run that finished its joint phase) into the variant `cfg`, which
    may differ from it only in `FORKABLE` fields; the error names any other difference. The
    variant's folder lies beside `run`'s (under its out_dir). Returns it, ready to `--resume`."""
    src = runs.load_config(Path(run))
    changes = {k: getattr(cfg, k) for k in FORKABLE if getattr(cfg, k) != getattr(src, k)}
    if "post_epochs" in changes and cfg.epochs - cfg.post_epochs != src.epochs - src.post_epochs:
        raise ValueError(f"{run} trained {src.epochs - src.post_epochs} joint epochs and the asked "
                         f"run {cfg.epochs - cfg.post_epochs}: a fork keeps the joint phase; set "
                         f"--epochs {src.epochs - src.post_epochs + cfg.post_epochs}")
    forked = dataclasses.replace(src, **changes, **({"epochs": cfg.epochs} if "post_epochs" in changes else {}))
    other = differing_fields(forked, dataclasses.replace(cfg, out_dir=forked.out_dir))
    if other:
        raise ValueError(f"cannot fork {run} into this run: it differs in {'; '.join(other)} "
                         f"(fork vs asked), and a fork changes only {', '.join(FORKABLE)}")
    if not changes:
        raise ValueError(f"the asked run is {run} itself (no post-training setting differs)")
    return fork_post_training(run, log, **changes)
