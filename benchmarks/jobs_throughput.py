"""Aggregate training throughput of `train-all --jobs N` on this machine: N processes at once,
each with cores / N threads, running the training step of hbn.train (fast path, fused Adam)
on the same data; images/s summed over the processes. Also a profile of one step.

    python benchmarks/jobs_throughput.py [--dataset tiny-imagenet-100] [--steps 60] [--jobs 1 2]

Writes benchmarks/results/jobs_throughput-<dataset>-<cpu>.json (and the step profile beside it).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "results"


def _fast_step(dataset: str, threads: int):
    """hbn.train's fast-path training step (bf16 autocast where the CPU has native bf16, else
    fp32; channels_last; fused Adam; subnormals flushed) for a fresh Gran-HBN, and an endless iterator of training batches."""
    import torch
    torch.set_num_threads(threads)
    from hbn.batching import batches
    from hbn.config import make_config
    from hbn.data import load_dataset
    from hbn.device import channels_last, cpu_has_bf16, flush_subnormals
    from hbn.models import build_model
    from hbn.train import _optimizer, exit_weights, make_step
    flush_subnormals()
    cfg = make_config("tiny", dataset=dataset)
    ds = load_dataset(dataset)
    torch.manual_seed(0)
    model = build_model(cfg, ds).train()
    bf16, cl = cpu_has_bf16(), channels_last(cfg, torch.device("cpu"))
    if cl:
        model.to(memory_format=torch.channels_last)
    step = make_step(cfg, model, _optimizer(cfg, model, False), exit_weights(cfg, model),
                     autocast=bf16, channels_last=cl)
    gen = torch.Generator().manual_seed(0)

    def forever():
        while True:
            yield from batches(ds.train, cfg.batch_size, ds.mean, ds.std, gen, train=True)
    return step, forever(), cfg.batch_size


def worker(dataset: str, steps: int, warmup: int, threads: int) -> float:
    """One process: `steps` timed training steps (after `warmup`), images/s."""
    step, it, batch = _fast_step(dataset, threads)
    for _ in range(warmup):
        step(*next(it))
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step(*next(it))
    loss.item()
    return steps * batch / (time.perf_counter() - t0)


def profile_step(dataset: str, threads: int) -> str:
    """torch.profiler's table of five fast-path steps (after warm-up), by self CPU time."""
    from torch.profiler import ProfilerActivity, profile
    step, it, _ = _fast_step(dataset, threads)
    for _ in range(5):
        step(*next(it))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            step(*next(it)).item()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="tiny-imagenet-100")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)  # threads, internal
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.dataset, args.steps, args.warmup, args.worker)))
        return
    cores = os.cpu_count() or 1
    results = {n: [] for n in args.jobs}
    for _ in range(args.repeats):  # interleaved: the machine's speed drifts
        for n in args.jobs:
            threads = max(1, cores // n)
            cmd = [sys.executable, __file__, "--dataset", args.dataset, "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--worker", str(threads)]
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, "OMP_NUM_THREADS": str(threads)})
                     for _ in range(n)]
            rates = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            results[n].append(sum(rates))
    best = {n: max(v) for n, v in results.items()}
    table = profile_step(args.dataset, cores)
    import torch
    from hbn.config import make_config
    from hbn.device import precision
    from hbn.runs import cpu_tag, environment
    env = environment()
    summary = {"dataset": args.dataset, "device": env.get("device"),
               "precision": precision(make_config("tiny"), torch.device("cpu")),
               "cores": cores, "steps": args.steps,
               "repeats": args.repeats, "load_average_1min_at_end": round(os.getloadavg()[0], 2),
               "aggregate_img_per_s": {f"--jobs {n} ({max(1, cores // n)} threads each)": round(v, 1)
                                       for n, v in best.items()},
               "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if len(best) > 1:
        a, b = sorted(best)[:2]
        summary[f"ratio_jobs_{b}_vs_{a}"] = round(best[b] / best[a], 3)
    for k, v in summary["aggregate_img_per_s"].items():
        print(f"{k}: {v} img/s summed over jobs")
    print(table)
    OUT.mkdir(exist_ok=True)
    # One file per CPU model: the answer differs between machines (a CPU with native bf16:
    # 1.09x in the 2026-12-01 file, which names no CPU).
    cpu = cpu_tag()
    path = OUT / f"jobs_throughput-{args.dataset}-{cpu}.json"
    path.write_text(json.dumps(summary, indent=2))
    (OUT / f"step_profile-{args.dataset}-{cpu}.txt").write_text(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
