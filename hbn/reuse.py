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


def fork_post_training(run: Path, log=print, **changes) -> Path:
    """An AG-HBN variant that differs only in its post-training settings (`post_mode`,
    `post_lr`, `sem_alpha`, `sem_fine_weight`), started from `run`'s checkpoint at the end of
    joint training: the joint phase does not read these fields, so (on the CPU, bit for bit) it
    equals training the variant from scratch. Returns the variant's folder, ready to `--resume`."""
    allowed = {"post_mode", "post_lr", "sem_alpha", "sem_fine_weight"}
    if not changes or set(changes) - allowed:
        raise ValueError(f"a post-training fork changes only {sorted(allowed)}, got {sorted(changes)}")
    run = Path(run)
    src = runs.load_config(run)
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
    log(f"forked {run} at epoch {state['epoch']} into {out}: {changes}")
    return out
