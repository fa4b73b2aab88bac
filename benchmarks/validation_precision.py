"""The per-epoch validation pass, measured: fp32 against bf16 autocast, on a model laid out as the
fast path trains it (channels_last), over the whole validation split, interleaved in one process.
Prints the seconds per pass, their ratio and the largest accuracy difference, and writes JSON.

    .venv/bin/python benchmarks/validation_precision.py [--dataset tiny-imagenet-100]
        [--model b-alexnet] [--repeats 2] [--out benchmarks/results/...]

The weights are a fixed random initialisation (seed 0): the timing does not depend on them, and
the accuracy difference shows only that both passes compute the same network. Before 2026-12-04
training validated each epoch in fp32.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from hbn.config import make_config
from hbn.data import load_dataset
from hbn.device import cpu_has_bf16
from hbn.models import build_model
from hbn.runs import environment
from hbn.train import validate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="tiny-imagenet-100")
    p.add_argument("--model", default="b-alexnet")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default="")
    args = p.parse_args()
    if not cpu_has_bf16():
        raise SystemExit("this CPU has no native bf16: the fast path validates in fp32 here, "
                         "so there is nothing to compare")
    cfg = make_config("tiny" if args.dataset == "tiny-imagenet-100" else "smoke",
                      model=args.model, dataset=args.dataset)
    ds = load_dataset(cfg.dataset, None)
    torch.manual_seed(0)
    model = build_model(cfg, ds).to(memory_format=torch.channels_last)
    seconds: dict[str, list[float]] = {"fp32": [], "bf16 autocast": []}
    acc: dict[str, dict] = {}
    validate(model, ds.val.take(torch.arange(cfg.eval_batch_size)), ds, cfg.eval_batch_size,
             autocast=True)  # warm-up (oneDNN kernels for both paths)
    for r in range(args.repeats):
        for label, autocast in (("fp32", False), ("bf16 autocast", True)):
            t0 = time.perf_counter()
            acc[label] = validate(model, ds.val, ds, cfg.eval_batch_size, autocast=autocast)
            seconds[label].append(round(time.perf_counter() - t0, 2))
            print(f"repeat {r + 1}: {label}: {seconds[label][-1]:.1f} s for {len(ds.val)} images",
                  flush=True)
    best = {k: min(v) for k, v in seconds.items()}
    diff = max(abs(acc["fp32"][k] - acc["bf16 autocast"][k]) for k in acc["fp32"])
    out = {"dataset": ds.title, "model": args.model, "images": len(ds.val),
           "eval_batch_size": cfg.eval_batch_size, "threads": torch.get_num_threads(),
           "cores": os.cpu_count(), "seconds": seconds, "best_s": best,
           "ratio_fp32_vs_bf16": round(best["fp32"] / best["bf16 autocast"], 2),
           "max_accuracy_difference": round(diff, 4),
           "load_average_1min_at_end": round(os.getloadavg()[0], 2), **environment(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"fp32 {best['fp32']:.1f} s, bf16 autocast {best['bf16 autocast']:.1f} s per pass: "
          f"{out['ratio_fp32_vs_bf16']}x; largest accuracy difference {diff:.4f}")
    path = Path(args.out or f"benchmarks/results/validation_precision-{args.dataset}.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
