"""Accuracy targets that hold and FLOPs budgets: an operating point (Th, τ) chosen on
calibration records with a finite-sample guarantee, then checked on other records.

As Goren, Galil and El-Yaniv (*Hierarchical selective classification*, NeurIPS 2024) calibrate a
threshold on held-out data so that a target accuracy holds with high probability, τ (and Th) are
chosen along a data-independent grid with a one-sided Clopper–Pearson bound and fixed-sequence
testing. The guarantee needs calibration and test images drawn alike: `split` cuts a record set
into a calibration part and a held-out part at random. Arrays `a` are `hbn.records.as_arrays`
output.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import analysis as A
from .selection import at_cuts

def _log_pmf(n: int, p: float) -> np.ndarray:
    """log P(X = j), j = 0..n, X ~ Binomial(n, p), 0 < p < 1 (math.lgamma for the coefficients)."""
    j = np.arange(n + 1)
    lg = np.array([math.lgamma(i + 1) for i in range(n + 1)])
    return lg[n] - lg - lg[::-1] + j * math.log(p) + (n - j) * math.log1p(-p)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space."""
    if k <= 0 or p >= 1.0:
        return 1.0 if k <= n else 0.0
    if k > n or p <= 0.0:
        return 0.0
    t = _log_pmf(n, p)[k:]
    return float(min(1.0, math.exp(t.max()) * np.exp(t - t.max()).sum()))


def clopper_pearson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on a binomial proportion (k right of n): the p at
    which P(X >= k) = 1 − confidence, i.e. the Beta(k, n − k + 1) quantile, by bisection."""
    if not 0 <= k <= n or not 0 < confidence < 1:
        raise ValueError("need 0 <= k <= n and 0 < confidence < 1")
    if k == 0:
        return 0.0
    alpha, lo, hi = 1 - confidence, 0.0, 1.0
    while hi - lo > 1e-14:  # P(X >= k) grows with p
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if binom_sf(k, n, mid) >= alpha else (mid, hi)
    return lo


def min_correct(n: int, target: float, alpha: float) -> int:
    """Fewest right answers of n whose lower bound at confidence 1 − α reaches `target`: the
    smallest k with P(X >= k | n, target) <= α (n + 1 when none). Exact: the bound of k right
    answers is >= target iff k >= min_correct (the tail grows with p)."""
    if not 0 < target < 1:
        raise ValueError("target must lie strictly between 0 and 1")
    t = _log_pmf(n, target)
    sf = np.cumsum(np.exp(t - t.max())[::-1])[::-1] * math.exp(t.max())
    ok = np.flatnonzero(sf <= alpha)
    return int(ok[0]) if len(ok) else n + 1


# Data-independent grids (fixed before any record is read, so every test is valid): τ in
# nats over every possible e_f − e_c for up to ~150 classes, and thresholds Th in nats.
TAUS = np.concatenate([[-np.inf], np.linspace(-5.0, 5.0, 1001), [np.inf]])
THRESHOLDS = np.concatenate([[0.0], np.geomspace(0.01, 5.0, 15)])


def tau_table(a: dict, branch: int | None = None, taus=TAUS, thresholds=THRESHOLDS,
              flops=None) -> pd.DataFrame:
    """Outcome of Algorithm 1 (per image) at every (Th, τ): one chain per Th, steps in τ
    order. Forced to `branch` (one chain, Th = inf) or dynamic over `thresholds`."""
    n = len(a["fine_true"])
    if branch is not None:
        parts = [A.tau_sweep(a, taus, branch=branch).assign(Th=np.inf)]
        if flops is not None:
            parts[0]["mean_flops"] = float(flops[branch])
    else:
        parts = [A.tau_sweep(a, taus, threshold=th, flops=flops).assign(Th=th) for th in thresholds]
    t = pd.concat([p.assign(step=np.arange(len(p))) for p in parts], ignore_index=True)
    t["correct"], t["n"] = np.rint(t["accuracy"] * n).astype(np.int64), n
    if "mean_flops" not in t:
        t["mean_flops"] = np.nan
    return t


def score_table(score, fine_ok, coarse_ok, hier_ok, cuts) -> pd.DataFrame:
    """`tau_table` for any score at one branch: fine iff score > cut, one chain in order of
    decreasing cut; column tau = −cut (for the entropy gap, exactly τ)."""
    cuts = np.sort(np.asarray(cuts, np.float64))[::-1]
    t = at_cuts(score, fine_ok, coarse_ok, hier_ok, cuts)
    return t.assign(tau=-cuts, Th=np.inf, step=np.arange(len(t)), mean_flops=np.nan)


def choose_for_target(table: pd.DataFrame, target: float, confidence: float = 0.95,
                      objective: str = "specificity") -> dict:
    """The certified operating point that best serves `objective` ("specificity": most fine
    answers, then fewest FLOPs; "flops": fewest FLOPs, then most fine answers).

    Along each chain (one per Th, steps of increasing τ) a point is certified while it and
    every earlier point have a Clopper–Pearson lower bound >= target at level α / chains
    (fixed-sequence testing, Bonferroni over chains): P(the chosen point's true accuracy <
    target) <= 1 − confidence, if the records are an i.i.d. sample of the test distribution.
    """
    chains = table["Th"].nunique()
    alpha = (1 - confidence) / chains
    n = int(table["n"].iloc[0])
    k_min = min_correct(n, target, alpha)
    t = table.sort_values(["Th", "step"]).copy()
    t["certified"] = (t["correct"] >= k_min).groupby(t["Th"]).cummin()
    ok = t[t["certified"]]
    out = dict(target=target, confidence=confidence, objective=objective, chains=chains,
               min_correct=k_min, n=n, certified=bool(len(ok)))
    if not len(ok):
        return dict(out, Th=np.nan, tau=np.nan, cal_accuracy=np.nan, cal_specificity=np.nan,
                    cal_mean_flops=np.nan, lower_bound=np.nan)
    by, asc = {"specificity": (["specificity", "mean_flops"], [False, True]),
               "flops": (["mean_flops", "specificity"], [True, False])}[objective]
    r = ok.sort_values(by, ascending=asc, kind="stable").iloc[0]
    return dict(out, Th=float(r["Th"]), tau=float(r["tau"]), cal_accuracy=float(r["accuracy"]),
                cal_specificity=float(r["specificity"]), cal_mean_flops=float(r["mean_flops"]),
                lower_bound=clopper_pearson_lower(int(r["correct"]), n, 1 - alpha))


def choose_for_budget(table: pd.DataFrame, budget: float) -> dict:
    """Most accurate point with mean FLOPs <= budget on these records (then most fine answers)."""
    ok = table[table["mean_flops"] <= budget]
    if not len(ok):
        return dict(budget=budget, feasible=False, Th=np.nan, tau=np.nan, cal_accuracy=np.nan,
                    cal_specificity=np.nan, cal_mean_flops=np.nan)
    r = ok.sort_values(["accuracy", "specificity"], ascending=False, kind="stable").iloc[0]
    return dict(budget=budget, feasible=True, Th=float(r["Th"]), tau=float(r["tau"]),
                cal_accuracy=float(r["accuracy"]), cal_specificity=float(r["specificity"]),
                cal_mean_flops=float(r["mean_flops"]))


def on_records(a: dict, choice: dict, branch: int | None = None, flops=None) -> dict:
    """Accuracy, δ and mean FLOPs of a chosen (Th, τ) on other records (test records, or the held-out part of a split)."""
    if np.isnan(choice["tau"]):  # nothing was certified / feasible
        return dict(accuracy=np.nan, specificity=np.nan, mean_flops=np.nan)
    if branch is not None:
        r = A.tau_sweep(a, [choice["tau"]], branch=branch).iloc[0]
        cost = float(flops[branch]) if flops is not None else np.nan
    else:
        r = A.tau_sweep(a, [choice["tau"]], threshold=choice["Th"], flops=flops).iloc[0]
        cost = float(r["mean_flops"]) if flops is not None else np.nan
    return dict(accuracy=float(r["accuracy"]), specificity=float(r["specificity"]), mean_flops=cost)


def split(a: dict, share: float = 0.5, seed: int = 0) -> tuple[dict, dict]:
    """(calibration, held-out): a random `share` of the images and the rest, every per-image
    array cut alike. Choosing on one part and reporting on the other keeps the two exchangeable,
    which a validation split cut from another file (the training file) need not be."""
    n = len(a["fine_true"])
    bad = sorted(k for k, v in a.items() if k != "exits" and len(v) != n)
    if bad:
        raise ValueError(f"per-image arrays must all have {n} rows; these do not: {', '.join(bad)}")
    if not 0 < share < 1 or not 0 < round(share * n) < n:
        raise ValueError(f"share must leave images on both sides of the split; got {share} of {n}")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(share * n))
    parts = np.sort(order[:cut]), np.sort(order[cut:])
    take = lambda idx: {k: (v[idx] if k != "exits" else v) for k, v in a.items()}  # noqa: E731
    return take(parts[0]), take(parts[1])


SOURCES = ("validation", "test half")  # where an operating point can be calibrated


def calibrations(study, seeds, val: dict, sources=SOURCES) -> dict:
    """{(seed, source): (calibration records, held-out half)} for each Gran-HBN seed: calibrated
    on its validation records `val[seed]` (seeds without them are left out) or on a random half
    of its test records; both are checked on the other half of the test set (the same half)."""
    if not isinstance(sources, (list, tuple)) or not sources or set(sources) - set(SOURCES):
        raise ValueError(f"calibrate_on: {sources!r}; give a non-empty list of {' and/or '.join(SOURCES)}")
    out = {}
    for s in seeds:
        half, held_out = split(study.run("gran-hbn", s).arrays, 0.5, seed=s)
        for src, cal in (("validation", val.get(s)), ("test half", half)):
            if src in sources and cal is not None:
                out[(s, src)] = (cal, held_out)
    return out


def target_choices(cals: dict, targets, confidence: float, flops) -> pd.DataFrame:
    """Every accuracy-target choice of the operating-point page: per calibration (`calibrations`)
    and target, the forced exit at each branch answering fine as often as the guarantee allows,
    and dynamic early exits with the fewest mean FLOPs, each checked on the held-out half."""
    rows = []
    for (s, src), (cal, held_out) in cals.items():
        grids = {f"branch {b + 1} forced, most fine": (b, tau_table(cal, branch=b, flops=flops))
                 for b in range(len(held_out["exits"]))}
        grids["dynamic, fewest FLOPs"] = (None, tau_table(cal, flops=flops))
        for target in targets:
            for name, (b, grid) in grids.items():
                c = choose_for_target(grid, target, confidence, "flops" if b is None else "specificity")
                t = on_records(held_out, c, branch=b, flops=flops)
                rows.append({"seed": s, "calibrated on": src, "target": target, "routing": name,
                             "certified": c["certified"], "Th": c["Th"], "τ": c["tau"],
                             "cal. lower bound": c["lower_bound"], "cal. δ": c["cal_specificity"],
                             "accuracy": t["accuracy"], "margin": 100 * (t["accuracy"] - target),
                             "δ": t["specificity"], "MFLOPs": t["mean_flops"] / 1e6,
                             "held": bool(t["accuracy"] >= target) if c["certified"] else None})
    return pd.DataFrame(rows)


def held_counts(chosen: pd.DataFrame) -> pd.DataFrame:
    """Per calibration source and target: choices, certified ones, how many of those held on
    the held-out half, and the worst margin (points)."""
    cert = chosen[chosen.certified]
    by = ["calibrated on", "target"]
    held = pd.DataFrame({"choices": chosen.groupby(by).size(),
                         "certified": chosen.groupby(by).certified.sum(),
                         "held": cert.groupby(by).held.sum()}).fillna(0).astype(int)
    held["worst margin (points)"] = cert.groupby(by).margin.min()
    return held.reset_index()
