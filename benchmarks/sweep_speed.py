"""τ-sweep speed: hbn.analysis.tau_sweep on records-sized random arrays (CPU, NumPy).

10,000 images x 3 exits (seeded), a 1,000-point τ grid: forced exits per branch in sample and
batch (512) mode, and Algorithm 1's dynamic early exit. For scale it also times the naive way,
one routing + scoring pass per τ, on a slice of the grid and extrapolates to 1,000 points.
Prints seconds; writes benchmarks/results/sweep_speed.json.

    python benchmarks/sweep_speed.py [--images 10000] [--taus 1000] [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from hbn import analysis as A, routing as R
from hbn.runs import cpu_model, environment, write_json

OUT = Path(__file__).parent / "results" / "sweep_speed.json"


def fake_records(n: int, n_exits: int = 3, seed: int = 0) -> dict:
    """Arrays shaped like hbn.records.as_arrays: 100 fine classes in 20 superclasses."""
    rng = np.random.default_rng(seed)
    f2c = np.repeat(np.arange(20), 5)
    ft = rng.integers(0, 100, n)
    fp = np.where(rng.random((n, n_exits)) < 0.5, ft[:, None], rng.integers(0, 100, (n, n_exits)))
    cp = np.where(rng.random((n, n_exits)) < 0.65, f2c[ft][:, None],
                  rng.integers(0, 20, (n, n_exits)))
    return dict(exits=np.arange(1, n_exits + 1), fine_true=ft, coarse_true=f2c[ft],
                fine_pred=fp, fine_pred_coarse=f2c[fp], coarse_pred=cp,
                fine_entropy=rng.gamma(4.0, 0.5, (n, n_exits)).astype(np.float32),
                coarse_entropy=rng.gamma(3.0, 0.4, (n, n_exits)).astype(np.float32),
                sem_prob_fine=np.full(n, np.nan))




def best_of(fn, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return dict(median_s=float(np.median(times)), min_s=float(np.min(times)), repeats=repeats)


def naive(a, taus, branch, mode, threshold=None):
    for t in taus:
        if branch is None:
            e, f = R.gran_hbn(a["fine_entropy"], a["coarse_entropy"], threshold, t, mode)
        else:
            e = np.full(len(a["fine_true"]), branch)
            f = R.gran_hbn_forced(a["fine_entropy"][:, branch], a["coarse_entropy"][:, branch],
                                  t, mode)
        A.score(a, e, f, mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--taus", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--naive-taus", type=int, default=50)
    args = ap.parse_args()
    a = fake_records(args.images)
    taus = A.wide_tau_grid(a, n=args.taus)
    th = [1.6, 1.2, 0.0]  # a mix of exits on these entropies
    cases = {f"forced branch {b}, {m}": dict(branch=b, mode=m)
             for m in ("sample", "batch") for b in range(3)}
    cases.update({f"dynamic, {m}": dict(branch=None, mode=m, threshold=th)
                  for m in ("sample", "batch")})
    results = {}
    for name, kw in cases.items():
        r = best_of(lambda kw=kw: A.tau_sweep(a, taus, batch_size=512, **kw), args.repeats)
        sub = taus[:: max(1, len(taus) // args.naive_taus)]
        t0 = time.perf_counter()
        naive(a, sub, kw["branch"], kw["mode"], kw.get("threshold"))
        r["naive_per_tau_loop_s"] = (time.perf_counter() - t0) * len(taus) / len(sub)
        results[name] = r
        print(f"{name:28s} fast {r['median_s'] * 1e3:8.2f} ms (median of {args.repeats})   "
              f"per-τ loop ≈ {r['naive_per_tau_loop_s']:6.2f} s")
    total = sum(r["median_s"] for k, r in results.items()
                if k.startswith("forced") and k.endswith("sample"))
    print(f"3 forced branches, sample mode, {args.taus} τ x {args.images} images: {total:.3f} s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(OUT, dict(images=args.images, exits=3, taus=args.taus, batch_size=512,
                         machine=platform.platform(), cpu=cpu_model(),
                         cpu_count=os.cpu_count(), load_average=os.getloadavg(),
                         environment=environment(), numpy=np.__version__, results=results,
                         forced_3_branches_sample_s=total))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
