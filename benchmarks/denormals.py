"""Training steps from a run's checkpoint, with and without flushing subnormal floats to zero.

A Tiny ImageNet run on the 2-core CPU slowed from ~54 s an epoch to ~120 s within 7 epochs with
nothing else running; its epoch-8 checkpoint held 5.5 M subnormal weights (of 11.7 M) and as many
subnormal Adam first moments. Arithmetic on subnormals is slow on x86. This measures fast-path
steps (bf16 autocast, channels_last, fused Adam, 2 threads) from such a checkpoint in fresh
processes, one per setting, alternated, and writes JSON:

    .venv/bin/python benchmarks/denormals.py CHECKPOINT [--steps 30] [--repeats 2] [--out F]

Each setting runs in its own process and sets the flag before any parallel work, so the OpenMP
worker threads, created later, inherit the floating-point mode of the thread that creates them.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def _subnormal(tensors) -> tuple[int, int]:
    import torch
    tiny = torch.finfo(torch.float32).tiny
    sub = total = 0
    for t in tensors:
        if torch.is_floating_point(t):
            sub += int(((t != 0) & (t.abs() < tiny)).sum())
            total += t.numel()
    return sub, total


def child(checkpoint: str, steps: int, flush: bool) -> dict:
    import time

    import torch
    torch.set_flush_denormal(flush)  # before the first parallel region creates the worker threads
    from hbn.batching import batches
    from hbn.config import RunConfig
    from hbn.data import load_dataset
    from hbn.models import build_model
    from hbn.runs import load_checkpoint
    from hbn.train import _optimizer, exit_weights, make_step

    state = load_checkpoint(Path(checkpoint), ("epoch", "post", "config", "model", "optimizer"))
    cfg = RunConfig.from_dict(state["config"])
    ds = load_dataset(cfg.dataset, cfg.data_dir or None)
    model = build_model(cfg, ds)
    model.load_state_dict(state["model"])
    model.to(memory_format=torch.channels_last).train()
    optimizer = _optimizer(cfg, model, state["post"])
    optimizer.load_state_dict(state["optimizer"])
    for group in optimizer.param_groups:
        group["lr"] = cfg.lr / 2  # a mid-schedule rate; the timing does not depend on it
    step = make_step(cfg, model, optimizer, exit_weights(cfg, model), state["post"], True, "cpu", True)
    gen = torch.Generator().manual_seed(0)
    it = batches(ds.train, cfg.batch_size, ds.mean, ds.std, gen, train=True)
    for _ in range(3):  # warm-up: oneDNN kernels
        step(*next(it))
    t0 = time.perf_counter()
    for _ in range(steps):
        step(*next(it))
    seconds = time.perf_counter() - t0
    sub, total = _subnormal(model.state_dict().values())
    return {"flush_denormal": flush, "s_per_step": seconds / steps, "img_per_s": steps * cfg.batch_size / seconds,
            "threads": torch.get_num_threads(), "model": cfg.model, "epoch": state["epoch"],
            "subnormal_weights_after": sub, "weights": total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/denormals.json")
    p.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.checkpoint, args.steps, args.child == "on")))
        return
    import torch
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    before = {"weights": _subnormal(state["model"].values()),
              "adam_exp_avg": _subnormal(s["exp_avg"] for s in state["optimizer"]["state"].values())}
    print(f"checkpoint (epoch {state['epoch']}): subnormal weights {before['weights'][0]:,} of "
          f"{before['weights'][1]:,}, Adam first moments {before['adam_exp_avg'][0]:,}", flush=True)
    results = []
    for r in range(args.repeats):
        for flag in ("off", "on"):
            out = subprocess.run([sys.executable, __file__, args.checkpoint, "--steps", str(args.steps),
                                  "--child", flag], check=True, capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(row)
            print(f"repeat {r + 1}: flush_denormal {flag}: {row['img_per_s']:.0f} img/s "
                  f"({row['s_per_step'] * 1000:.0f} ms a step)", flush=True)
    best = {flag: max(x["img_per_s"] for x in results if x["flush_denormal"] == (flag == "on"))
            for flag in ("off", "on")}
    ratio = best["on"] / best["off"]
    print(f"flushing subnormals: {ratio:.2f}x the images/s ({best['on']:.0f} against {best['off']:.0f})")
    from hbn.runs import environment
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"checkpoint": os.path.abspath(args.checkpoint),
                                          "epoch": state["epoch"], "subnormal_before": before,
                                          "runs": results, "best_img_per_s": best, "ratio": ratio,
                                          "environment": environment()}, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
