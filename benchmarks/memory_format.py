"""Training step in the contiguous vs the channels_last memory format, on this CPU, in the
arithmetic hbn.train's fast path uses here (bf16 autocast with native bf16, else fp32), fused
Adam, interleaved in one process (the machine's speed drifts), for Gran-HBN and Sem-AlexNet.

    python benchmarks/memory_format.py [--dataset tiny-imagenet-100] [--steps 20] [--repeats 3]

Writes benchmarks/results/memory_format-<dataset>-<cpu>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from hbn.batching import batches
from hbn.config import make_config
from hbn.data import load_dataset
from hbn.device import cpu_has_bf16, flush_subnormals, precision
from hbn.models import build_model
from hbn.runs import cpu_tag, environment
from hbn.train import _optimizer, exit_weights, make_step

OUT = Path(__file__).parent / "results"


def _step(cfg, ds, cl: bool, bf16: bool):
    torch.manual_seed(0)
    model = build_model(cfg, ds).train()
    if cl:
        model.to(memory_format=torch.channels_last)
    return make_step(cfg, model, _optimizer(cfg, model, False), exit_weights(cfg, model),
                     autocast=bf16, channels_last=cl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="tiny-imagenet-100")
    ap.add_argument("--models", nargs="+", default=["gran-hbn", "sem-alexnet"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    flush_subnormals()
    ds = load_dataset(args.dataset)
    bf16 = cpu_has_bf16()
    gen = torch.Generator().manual_seed(0)
    cfg0 = make_config("tiny", dataset=args.dataset)
    data = [b for _, b in zip(range(args.steps + args.warmup),
                              batches(ds.train, cfg0.batch_size, ds.mean, ds.std, gen, train=True))]
    rates = {}
    for model in args.models:
        cfg = make_config("tiny", dataset=args.dataset, model=model)
        steps = {fmt: _step(cfg, ds, fmt == "channels_last", bf16) for fmt in ("contiguous", "channels_last")}
        for _ in range(args.repeats):
            for fmt, step in steps.items():
                for b in data[:args.warmup]:
                    step(*b)
                t0 = time.perf_counter()
                for b in data[args.warmup:]:
                    loss = step(*b)
                loss.item()
                rates.setdefault(model, {}).setdefault(fmt, []).append(
                    args.steps * cfg.batch_size / (time.perf_counter() - t0))
    env = environment()
    summary = {"dataset": args.dataset, "device": env.get("device"), "threads": torch.get_num_threads(),
               "precision": precision(cfg0, torch.device("cpu")), "steps": args.steps,
               "repeats": args.repeats, "load_average_1min_at_end": round(os.getloadavg()[0], 2),
               "img_per_s": {m: {f: [round(x, 1) for x in v] for f, v in r.items()} for m, r in rates.items()},
               "ratio_channels_last_vs_contiguous (best of repeats)": {
                   m: round(max(r["channels_last"]) / max(r["contiguous"]), 3) for m, r in rates.items()},
               "ratio_channels_last_vs_contiguous (mean of repeats)": {
                   m: round(sum(r["channels_last"]) / sum(r["contiguous"]), 3) for m, r in rates.items()},
               "torch": env.get("torch"), "git": env.get("git"), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    for m, r in rates.items():
        print(f"{m}: contiguous {max(r['contiguous']):.0f} img/s, channels_last {max(r['channels_last']):.0f} "
              f"img/s (best of {args.repeats}): {max(r['channels_last']) / max(r['contiguous']):.2f}x, "
              f"mean {sum(r['channels_last']) / sum(r['contiguous']):.2f}x ({summary['precision']})")
    cpu = cpu_tag()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"memory_format-{args.dataset}-{cpu}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
