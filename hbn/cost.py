"""Inference cost per exit: FLOPs counted by torch and measured early-exit latency.

FLOPs = 2 x multiply-adds of conv and linear layers (torch.utils.flop_counter); the cost of
exit n includes every layer that must run to reach it, earlier exit heads included (DESIGN.md §2).
"""
from __future__ import annotations

import platform
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .models import BranchyNet


@torch.no_grad()
def exit_flops(model: BranchyNet, input_shape=(1, 3, 32, 32)) -> list[int]:
    """Cumulative FLOPs to reach and evaluate each exit, in exit order."""
    was_training = model.training
    model.eval()
    x = torch.zeros(input_shape)
    costs, total = [], 0
    gen = model.iter_exits(x)
    try:
        for _ in model.exit_specs:
            counter = FlopCounterMode(display=False)
            with counter:
                next(gen)  # runs the trunk up to this exit, then the exit head
            total += counter.get_total_flops()
            costs.append(int(total))
    finally:
        gen.close()
        model.train(was_training)
    return costs


@torch.no_grad()
def exit_latency(model: BranchyNet, input_shape=(1, 3, 32, 32), repeats: int = 50,
                 warmup: int = 10) -> list[dict]:
    """Wall time of a batch-1 forward pass that really stops at each exit (CPU, seconds).

    Returns per exit: median, q25, q75 over `repeats` runs, plus threads and machine.
    """
    model.eval()
    x = torch.randn(input_shape)
    results = []
    for k in range(len(model.exit_specs)):
        def run(k=k):
            gen = model.iter_exits(x)
            for _ in range(k + 1):
                out = next(gen)
            gen.close()
            return out
        for _ in range(warmup):
            run()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        q25, med, q75 = np.percentile(times, [25, 50, 75])
        results.append(dict(exit=k, median_s=float(med), q25_s=float(q25), q75_s=float(q75),
                            repeats=repeats, threads=torch.get_num_threads(),
                            machine=f"{platform.machine()} {platform.processor() or ''}".strip()))
    return results
