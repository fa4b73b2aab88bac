"""Statistics over seeds: the mean and 95 % Student-t interval of one model's runs, the Welch
interval of a difference between two models, and the verdict an interval gives on a claim.
Seeds are the unit of replication: each run is one draw of initialisation, split and order.
"""
from __future__ import annotations

import numpy as np

HOLDS, FAILS, CANNOT_TELL = "holds", "does not hold", "cannot tell at this n"
# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..10 (beyond: normal approx.).
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def _t(df: int) -> float:
    return T95[max(df, 1) - 1] if df <= len(T95) else 1.96


def interval(values) -> tuple[float, float, float]:
    """Mean and 95% Student-t confidence interval over seeds: (mean, low, high); one value
    gives no interval (NaN ends)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, np.nan, np.nan
    half = float(_t(len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half


def welch(x, y) -> tuple[float, float, float]:
    """Mean of x minus mean of y and its 95 % Welch interval (independent seeds of two models);
    the Welch–Satterthwaite degrees of freedom rounded down (a slightly wider interval)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return d, np.nan, np.nan
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = float(np.sqrt(vx + vy))
    if se == 0:
        return d, d, d
    df = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    return d, d - _t(int(df)) * se, d + _t(int(df)) * se


def decide(lo: float, hi: float, above: float | None = None, below: float | None = None,
           inside: tuple[float, float] | None = None) -> str:
    """HOLDS when the interval [lo, hi] lies wholly on the claim's side (above `above`, below
    `below`, or strictly inside `inside`), FAILS when wholly on the other, else CANNOT_TELL
    (and always with no interval: one seed)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return CANNOT_TELL
    if above is not None:
        return HOLDS if lo > above else FAILS if hi <= above else CANNOT_TELL
    if below is not None:
        return HOLDS if hi < below else FAILS if lo >= below else CANNOT_TELL
    a, b = inside
    if a < lo and hi < b:
        return HOLDS
    return FAILS if hi <= a or lo >= b else CANNOT_TELL
