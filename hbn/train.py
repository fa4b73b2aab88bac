"""Joint training of every exit (eq. 7, Table I) and AG-HBN's post-training (eqs. 8-11).

Data stay on the device as uint8; augmentation runs there. `fast` adds bf16 autocast (on a GPU,
and on CPUs with native bf16 such as AVX512-BF16 / AMX) and, on a GPU, CUDA graphs
(torch.compile "reduce-overhead"); `fast=False` is plain fp32. Validation is always fp32.
Each epoch is seeded from (seed, epoch), so on the CPU `resume` ends with the same weights
(on a GPU, cuDNN and CUDA graphs do not promise bit-identical results).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import identity, runs
from .config import RunConfig
from .batching import batches
from .data import Dataset, load_dataset
from .device import channels_last as uses_channels_last
from .device import compiled, cpu_has_bf16, flush_subnormals, precision, resolve_device
from .lock import run_lock
from .losses import joint_loss, semantic_loss, semantic_target
from .models import build_model
from .reuse import JOINT_CHECKPOINT, differing_fields, finished, same_experiment


def learning_rate(cfg: RunConfig, step: int, steps_per_epoch: int, joint_epochs: int) -> float:
    """The joint-training learning rate at optimisation `step` (0-based): constant (Table I), or
    a linear warm-up over `warmup_epochs` then cosine decay to 0 at the end of joint training."""
    if cfg.schedule == "constant":
        return cfg.lr
    warm, total = cfg.warmup_epochs * steps_per_epoch, joint_epochs * steps_per_epoch
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def exit_weights(cfg: RunConfig, model) -> list[float]:
    """w_n for each exit the model has; a single-exit model (AlexNet) uses 1 (Table I: N/A)."""
    if len(model.exit_stages) == 1:
        return [1.0]
    return [cfg.exit_weights[s] for s in model.exit_stages]


@torch.no_grad()
def validate(model, split, ds: Dataset, batch_size: int,
             sem_fine_weight: float | None = None, autocast: bool = False,
             device_type: str = "cpu") -> dict[str, float]:
    """Accuracy of every exit at every granularity it has (no augmentation).

    With `sem_fine_weight` (AG-HBN post-training), the same pass also reports the semantic
    exit: how often it says fine, how often the eq. (8) target says fine, and how often the
    two agree (its accuracy against its own target). `autocast`: in bf16, as the fast path
    trains (the per-epoch curves only: a run's test and validation records stay fp32); about 4x
    faster than fp32 on a CPU with AMX (benchmarks/validation_precision.py).
    """
    model.eval()
    right: dict[str, float] = {}
    for x, fine, coarse in batches(split, batch_size, ds.mean, ds.std):
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
            outs = model(x)
        for stage, out in zip(model.exit_stages, outs):
            for g, y in (("fine", fine), ("coarse", coarse)):
                if g in out:
                    key = f"exit{stage + 1}_{g}"
                    right[key] = right.get(key, 0.0) + (out[g].argmax(-1) == y).sum().item()
        if sem_fine_weight is not None:
            said = (torch.softmax(outs[0]["semantic"].float(), -1)[:, 1] > 0.5).long()  # as routing._semantic
            want = semantic_target(outs, fine, coarse, sem_fine_weight)
            for key, v in (("sem_fine_share", said.sum()), ("sem_target_fine_share", want.sum()),
                           ("sem_agreement", (said == want).sum())):
                right[key] = right.get(key, 0.0) + v.item()
    return {k: v / len(split) for k, v in right.items()}


def _autocast(cfg: RunConfig, device) -> bool:
    """Whether the run trains (and validates each epoch) under bf16 autocast: the fast path."""
    return cfg.fast and (device.type == "cuda" or cpu_has_bf16())


def _validation_precision(cfg: RunConfig, device) -> str:
    """How the per-epoch validation curves were computed (runs before 2026-12-04: fp32)."""
    return "bf16 autocast" if _autocast(cfg, device) else "fp32"


def _memory_format(cfg: RunConfig, device) -> str:
    return "channels_last" if uses_channels_last(cfg, device) else "contiguous"


def _epoch_generator(cfg: RunConfig, epoch: int, device) -> torch.Generator:
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout: deterministic per epoch
    return torch.Generator(device=device).manual_seed(cfg.seed * 100_003 + epoch)


def train(cfg: RunConfig, ds: Dataset | None = None, resume: bool = False, progress: bool = True,
          log=print, stop_after: int | None = None, retrain: bool = False) -> Path:
    """Train `cfg` into its run directory and return that directory.

    A finished run's folder is never written: `resume` then does nothing, and only `retrain`
    re-makes it (the old folder is kept as `<run>.previous`). The run folder's lock (hbn.lock)
    is held throughout: a second process fails at once. `stop_after` ends the call after that
    many epochs in total (to test resuming). On the CPU it leaves the process flushing
    subnormal floats to zero in every thread (hbn.device.flush_subnormals).
    """
    if retrain:
        runs.set_aside(runs.run_dir(cfg), log)
    with run_lock(runs.run_dir(cfg), log=log):
        return _train(cfg, ds, resume, progress, log, stop_after)


def _refuse_or_skip(cfg: RunConfig, out: Path, resume: bool, log) -> bool:
    """True when there is nothing to train (a finished run, with --resume); raise when training
    would overwrite something a checkpoint cannot give back. Nothing is written either way."""
    ckpt_path = out / "checkpoint.pt"
    retrain = (f"use `--retrain` to re-make it (the old folder is kept as "
               f"`{out.name}.previous`)")
    if runs.finished_folder(out) or (out / "model.pt").exists():
        if resume:
            log(f"{out}: finished; nothing to resume (nothing was written)")
            return True
        raise FileExistsError(f"{out}: finished; {retrain}. Nothing was written")
    identity.check_same_config(out, cfg)  # config.json of another experiment: refuse, weights or not
    if ckpt_path.exists() and not resume:
        raise FileExistsError(f"{out} holds an interrupted run; pass --resume to continue it, "
                              f"or {retrain}")
    logged = len(runs.read_metrics(out))
    if logged and not ckpt_path.exists():
        raise FileExistsError(f"{out} holds the log of {logged} epoch(s) but no checkpoint.pt to "
                              f"continue from; {retrain}. Nothing was written")
    return False


def _train(cfg: RunConfig, ds, resume: bool, progress: bool, log, stop_after) -> Path:
    device = resolve_device(cfg.device)
    out = runs.run_dir(cfg)
    ckpt_path = out / "checkpoint.pt"
    if _refuse_or_skip(cfg, out, resume, log):
        return out
    # Subnormal weights made CPU epochs 2x slower (hbn.device.flush_subnormals); on a GPU the
    # host threads do no arithmetic of the run.
    subnormals = flush_subnormals() if device.type == "cpu" else "not flushed (GPU)"
    ds = (ds or load_dataset(cfg.dataset, cfg.data_dir or None)).to(device)
    torch.manual_seed(cfg.seed)  # the initial weights depend on the seed alone
    model = build_model(cfg, ds).to(device)
    joint_epochs = cfg.epochs - cfg.post_epochs if cfg.model == "ag-hbn" else cfg.epochs
    start, state = 0, None
    if resume and ckpt_path.exists():
        state = runs.load_checkpoint(ckpt_path, ("epoch", "post", "config", "model", "optimizer"))
        if not same_experiment(RunConfig.from_dict(state["config"]), cfg):
            raise ValueError(f"{ckpt_path} was written by a different configuration; resume with "
                             f"the same settings or start a new run directory")
        model.load_state_dict(state["model"])
        start = state["epoch"]
    out.mkdir(parents=True, exist_ok=True)
    runs.write_json(out / "config.json", cfg.to_dict())
    if start == 0:  # a resumed run keeps the record of where it started; resumes are logged
        runs.write_json(out / "meta.json", {**runs.environment(), "precision": precision(cfg, device),
                                            "validation_precision": _validation_precision(cfg, device),
                                            "dataset_title": ds.title,
                                            "optimizer": f"torch.optim.Adam ({ADAM_IMPL})",
                                            "subnormals": subnormals,
                                            "memory_format": _memory_format(cfg, device),
                                            "shortened": cfg.shortened, "train_images": _n_train(cfg, ds)})
    elif start < cfg.epochs:  # (a checkpoint of the last epoch only lacks its final weights)
        meta = runs.read_meta(out)
        meta.setdefault("resumed", []).append({"at_epoch": start, **runs.environment(),
                                               "precision": precision(cfg, device),
                                               "memory_format": _memory_format(cfg, device),
                                               "subnormals": subnormals})
        runs.write_json(out / "meta.json", meta)
    # Keep the log lines of the epochs the checkpoint holds (a crash may have left one more).
    kept = [m for m in runs.read_metrics(out) if m["epoch"] <= start]
    runs.write_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in kept))
    if cfg.departures():
        log(f"NOTE: not the paper's protocol ({cfg.profile} profile): {'; '.join(cfg.departures())}")
    log(f"training {cfg.model} on {ds.title} ({device}, {precision(cfg, device)}), "
        + (f"epochs {start + 1}..{cfg.epochs}" if start < cfg.epochs else
           f"all {cfg.epochs} epochs done, writing the final weights") + f" -> {out}")

    train_split = ds.train
    if cfg.train_subset:
        train_split = ds.train.take(torch.arange(min(cfg.train_subset, len(ds.train)), device=device))
    use_graphs = cfg.fast and device.type == "cuda"
    autocast = _autocast(cfg, device)
    channels_last = uses_channels_last(cfg, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    forward = compiled(model) if use_graphs else model
    w_n = exit_weights(cfg, model)
    steps_per_epoch = -(-len(train_split) // cfg.batch_size)

    last = time.time()  # when the previous epoch's log line was made (the wall time between two)
    last_cpu = time.process_time()
    for epoch in range(start, cfg.epochs):
        post = epoch >= joint_epochs
        if epoch == start or epoch == joint_epochs:  # (re)build the phase's optimizer
            optimizer = _optimizer(cfg, model, post)
            if state is not None and state["post"] == post:
                optimizer.load_state_dict(state["optimizer"])
        gen = _epoch_generator(cfg, epoch, device)
        # Post-training: the frozen network in the authors' train mode (dropout on; the eq. (8)
        # targets then vary from pass to pass) or in eval mode (`post_mode`).
        model.train(not post or cfg.post_mode == "train")
        t0, total, seen = time.time(), 0.0, 0
        bar = tqdm(batches(train_split, cfg.batch_size, ds.mean, ds.std, gen, train=True),
                   total=-(-len(train_split) // cfg.batch_size), disable=not progress,
                   desc=f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}{' (post)' if post else ''}",
                   leave=False)
        step = make_step(cfg, forward, optimizer, w_n, post, autocast, device.type, channels_last)
        for i, (x, fine, coarse) in enumerate(bar):
            if not post:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(cfg, epoch * steps_per_epoch + i, steps_per_epoch,
                                                joint_epochs)
            total += step(x, fine, coarse) * len(fine)
            seen += len(fine)
        train_time = time.time() - t0
        loss = float(total) / seen  # the epoch's one host sync
        if not math.isfinite(loss):  # divergence: stop before this epoch writes anything
            raise runs.TrainingDiverged(_diverged(cfg, epoch, post, loss, ckpt_path))
        row = {"epoch": epoch + 1, "phase": "post" if post else "joint",
               "train_loss": loss, "train_s": round(train_time, 2),
               "img_per_s": round(seen / train_time, 1)}
        t1 = time.time()
        val = validate(model, ds.val, ds, cfg.eval_batch_size, cfg.sem_fine_weight if post else None,
                       autocast, device.type)
        row.update({f"val_{k}": round(v, 4) for k, v in val.items()})
        # Where an epoch's wall time goes: training (train_s), this validation pass, and the
        # rest since the previous line (the previous checkpoint write, logging, set-up).
        now = time.time()
        # cpu_s: the process's CPU seconds over the same span, all threads: unlike wall time it
        # does not grow while the run is paused or starved by other work on a shared machine.
        row.update({"validate_s": round(now - t1, 2), "epoch_wall_s": round(now - last, 2),
                    "cpu_s": round(time.process_time() - last_cpu, 2)})
        last, last_cpu = now, time.process_time()
        runs.append_line(out / "metrics.jsonl", json.dumps(row))
        runs.save_atomic({"epoch": epoch + 1, "post": post, "config": cfg.to_dict(),
                          "model": model.state_dict(), "optimizer": optimizer.state_dict()}, ckpt_path)
        if epoch + 1 == joint_epochs and cfg.model == "ag-hbn":  # kept: post-training variants fork here
            shutil.copyfile(ckpt_path, out / JOINT_CHECKPOINT)
        log(_format_row(row))
        state = None
        if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < cfg.epochs:
            log(f"stopped after epoch {epoch + 1} (resume with --resume)")
            return out
    runs.save_atomic({"config": cfg.to_dict(), "config_digest": identity.config_digest(cfg),
                      "model": model.state_dict()}, out / "model.pt")
    return out


def _diverged(cfg: RunConfig, epoch: int, post: bool, loss: float, ckpt_path: Path) -> str:
    lr, flag = (cfg.post_lr, "--post-lr") if post else (cfg.lr, "--lr")
    kept = (f"{ckpt_path} (epoch {epoch}) is intact and resumable" if epoch > 0
            else "no checkpoint had been written yet")
    return (f"training diverged: the mean training loss of epoch {epoch + 1}"
            f"{' (post-training)' if post else ''} is {loss} at {flag[2:]} {lr:g}; nothing of that "
            f"epoch was written and {kept}. Train again with a smaller {flag} (e.g. {flag} "
            f"{lr / 10:g}; that is a new run folder)")


def make_step(cfg: RunConfig, forward, optimizer, w_n, post: bool = False, autocast: bool = False,
              device_type: str = "cpu", channels_last: bool = False):
    """One optimisation step on a batch; returns the loss (a 0-d tensor, no host sync).

    `autocast` runs the forward pass in bf16; the loss, optimiser and batch size are the same.
    """
    w_g = cfg.granularity_weights

    def step(x, fine, coarse):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
            outputs = forward(x)
            if post:
                loss, _ = semantic_loss(outputs, fine, coarse, cfg.sem_alpha, cfg.sem_fine_weight)
            else:
                loss, _ = joint_loss(outputs, fine, coarse, w_n, w_g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return step


def _n_train(cfg: RunConfig, ds: Dataset) -> int:
    return min(cfg.train_subset, len(ds.train)) if cfg.train_subset else len(ds.train)


# Adam's implementation in PyTorch. "fused" updates every tensor in one kernel: on the 2-core
# CPU the per-tensor loop was a third of a Gran-HBN step (benchmarks/train_throughput.py).
ADAM_IMPL = "fused"
ADAM_IMPLS = {"fused": dict(fused=True), "foreach": dict(foreach=True),
              "for-loop": dict(foreach=False, fused=False)}


def adam(params, lr: float, weight_decay: float, impl: str = ADAM_IMPL) -> torch.optim.Adam:
    """Adam (Table I) with PyTorch's `impl`ementation; all three compute the same update."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **ADAM_IMPLS[impl])


def _optimizer(cfg: RunConfig, model, post: bool) -> torch.optim.Optimizer:
    if not post:
        for p in model.parameters():
            p.requires_grad_(True)
        return adam(model.parameters(), cfg.lr, cfg.weight_decay, ADAM_IMPL)
    # Post-training: everything frozen but the semantic exit (paper §IV-B).
    for p in model.parameters():
        p.requires_grad_(False)
    head = model.exits["0"].classifiers["semantic"]
    for p in head.parameters():
        p.requires_grad_(True)
    return adam(head.parameters(), cfg.post_lr, cfg.weight_decay, ADAM_IMPL)


def _format_row(row: dict) -> str:
    vals = " ".join(f"{k[4:]}={v:.3f}" for k, v in row.items() if k.startswith("val_"))
    return (f"epoch {row['epoch']:>3} [{row['phase']}] loss {row['train_loss']:.4f} "
            f"({row['img_per_s']:.0f} img/s) | {vals}")


def train_or_reuse(cfg: RunConfig, ds: Dataset | None = None, progress: bool = False,
                   log=print) -> Path:
    """Reuse a finished run of the same experiment, resume an interrupted one, else train;
    then write the test records if they are missing."""
    from .evaluate import evaluate
    out = runs.run_dir(cfg)
    if finished(cfg):
        log(f"reusing the finished run in {out} (trained earlier; its log is in metrics.jsonl)")
        return out
    if (out / "config.json").exists():
        stored = runs.load_config(out)
        if not same_experiment(stored, cfg):
            raise FileExistsError(f"{out} holds a run with a different configuration "
                                  f"({'; '.join(differing_fields(stored, cfg))}: stored vs asked), "
                                  f"e.g. because the profile was edited; nothing was overwritten. "
                                  f"Retrain explicitly (`python -m hbn book --profile {cfg.profile} "
                                  f"--retrain`, which keeps the old folder as <run>.previous), or "
                                  f"move the folder away, or choose another out_dir")
    train(cfg, ds, resume=True, progress=progress, log=log)
    if not (out / "records.csv.gz").exists():
        evaluate(out, ds, device=cfg.device)
    return out
