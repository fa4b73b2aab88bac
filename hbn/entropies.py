"""Fig. 5's entropy statistics over exit records: fine and coarse entropies (nats) per branch,
as the paper's batch-of-64 means or per image, their summaries, and the paper's two readings
of Fig. 5 (entropies fall with depth; fine and coarse ranges overlap).

Everything reads `hbn.records.as_arrays` output `a` (arrays of shape (N images, n_exits)).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import routing as R
from .analysis import _check, _exit_number

PER = ("batch", "image")  # Fig. 5's statistic (the authors') and ours


def statistic_label(per: str = "batch", batch_size: int = 64) -> str:
    """Whose entropy statistic `per` is, for tables and figure panels."""
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, got {per!r}")
    return (f"paper's statistic: batch-of-{batch_size} means (min–max)" if per == "batch"
            else "ours: per image")


def entropy_units(a: dict, per: str = "batch", batch_size: int = 64):
    """(fine, coarse) entropies in nats, (M units, B exits): per image (M = N), or, as in the
    paper's Fig. 5, the mean over each consecutive batch of `batch_size` test images (the
    last batch may be shorter). NaN columns where an exit lacks that head."""
    _check(a)
    statistic_label(per, batch_size)  # validates `per`
    ef, ec = (np.asarray(a[f"{g}_entropy"], np.float64) for g in ("fine", "coarse"))
    if per == "image":
        return ef, ec
    starts = R.decision_units(len(ef), "batch", batch_size)
    return R.unit_means(ef, starts), R.unit_means(ec, starts)


def batch_entropies(a: dict, batch_size: int = 64) -> pd.DataFrame:
    """Fig. 5's statistic: per branch and granularity, the mean entropy of each consecutive
    batch of `batch_size` test images, summarised over batches by their mean, min and max."""
    uf, uc = entropy_units(a, "batch", batch_size)
    rows = []
    for b in range(uf.shape[1]):
        for g, u in (("fine", uf[:, b]), ("coarse", uc[:, b])):
            if not np.isnan(u).all():
                rows.append(dict(branch=b, exit=_exit_number(a, b), granularity=g,
                                 batch_size=batch_size, n_batches=len(u), mean=float(u.mean()),
                                 min=float(u.min()), max=float(u.max())))
    return pd.DataFrame(rows)


def _stats(x: np.ndarray, prefix: str) -> dict:
    x = x[~np.isnan(x)]
    qs = {"min": 0.0, "q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95,
          "max": 1.0}
    if not len(x):
        return {f"{prefix}_{k}": np.nan for k in ("mean", *qs)}
    return {f"{prefix}_mean": float(x.mean()),
            **{f"{prefix}_{k}": float(np.quantile(x, q)) for k, q in qs.items()}}


def entropy_summary(a: dict, per: str = "batch", batch_size: int = 64) -> pd.DataFrame:
    """Per branch: mean, min, quantiles and max of fine and coarse entropy (nats) over units
    (`entropy_units`: batch-of-`batch_size` means, the paper's statistic, or single images,
    ours); `overlap` = share of units whose fine entropy is below the branch's median coarse
    entropy; `ranges_overlap` = the fine and coarse min–max ranges intersect. NaN where the
    branch lacks a head; `statistic` names the statistic."""
    uf, uc = entropy_units(a, per, batch_size)
    rows = []
    for b in range(uf.shape[1]):
        ef, ec = uf[:, b], uc[:, b]
        row = dict(branch=b, exit=_exit_number(a, b), **_stats(ef, "fine"), **_stats(ec, "coarse"))
        both = not (np.isnan(ef).all() or np.isnan(ec).all())
        row["overlap"] = float(np.mean(ef < row["coarse_median"])) if both else np.nan
        row["ranges_overlap"] = (bool(row["fine_min"] <= row["coarse_max"]
                                      and row["coarse_min"] <= row["fine_max"]) if both else None)
        rows.append(row)
    return pd.DataFrame(rows).assign(n_units=len(uf), statistic=statistic_label(per, batch_size))


def entropy_falls_with_depth(a: dict, per: str = "batch", batch_size: int = 64) -> dict:
    """Per granularity: is the median unit entropy (`entropy_summary(a, per, batch_size)`)
    strictly decreasing over the branches that have that head? Granularities on fewer than
    two branches are left out. `statistic` says which statistic the verdict uses."""
    s = entropy_summary(a, per, batch_size)
    out = {"statistic": statistic_label(per, batch_size)}
    for g in ("fine", "coarse"):
        med = s[f"{g}_median"].dropna().to_numpy()
        if len(med) >= 2:
            out[g] = bool(np.all(np.diff(med) < 0))
    return out


def entropy_verdicts(a: dict, batch_size: int = 64) -> pd.DataFrame:
    """The paper's two readings of Fig. 5 under both statistics, one row each: does the
    median entropy fall with depth (fine, coarse), and do the fine and coarse ranges overlap
    at every branch that has both heads?"""
    rows = []
    for per in PER:
        falls = entropy_falls_with_depth(a, per, batch_size)
        s = entropy_summary(a, per, batch_size)
        rows.append({"statistic": falls.pop("statistic"),
                     **{f"{g} falls with depth": v for g, v in falls.items()},
                     "ranges overlap at every branch": bool(s["ranges_overlap"].dropna().all())})
    return pd.DataFrame(rows)


def depth_trend(a: dict, statistic: str = "batch", size: int = 64) -> dict:
    """Per granularity with a head at two or more branches: the median unit entropy (nats;
    units as in `entropy_units(a, statistic, size)`) at each of those branches (`exits`,
    `medians`), each step's change (`steps`), the change from the first to the last of them
    (`change`; negative: falls with depth) and how many units each median is over (`n_units`)."""
    s = entropy_summary(a, statistic, size)
    out = {}
    for g in ("fine", "coarse"):
        has = s[f"{g}_median"].notna()
        if has.sum() >= 2:
            med = s.loc[has, f"{g}_median"].to_numpy()
            out[g] = dict(exits=s.loc[has, "exit"].astype(int).tolist(), medians=med.tolist(),
                          steps=np.diff(med).tolist(), change=float(med[-1] - med[0]),
                          n_units=int(s["n_units"].iloc[0]))
    return out


def _trend_word(mean: float, low: float, high: float) -> str:
    if not np.isfinite(low):  # one seed: the sign of the point estimate, said as such
        return ("falls" if mean < 0 else "rises" if mean > 0 else "unchanged") + " (one seed)"
    return "falls" if high < 0 else "rises" if low > 0 else "no clear change"


def trend_over_seeds(runs: list[dict], statistic: str = "batch", size: int = 64) -> pd.DataFrame:
    """`depth_trend` of each run (`runs`: as_arrays outputs, one per seed), per granularity and
    step between branches ("1 → 2", ..., and first → last): the mean change of the median
    entropy over runs and its 95 % Student-t interval (`hbn.seedstats.interval`), n_seeds and
    n_units, `neighbours` (False for first → last) and `trend`: "falls" / "rises" where the
    interval excludes 0, else "no clear change" (one run: the point estimate's sign, marked
    "(one seed)")."""
    from .seedstats import interval
    per = [depth_trend(a, statistic, size) for a in runs]
    rows = []
    for g in ("fine", "coarse"):
        if not all(g in t for t in per):
            continue
        ex = per[0][g]["exits"]
        steps = [(f"{ex[i]} → {ex[i + 1]}", True, [t[g]["steps"][i] for t in per])
                 for i in range(len(ex) - 1)]
        if len(ex) > 2:
            steps.append((f"{ex[0]} → {ex[-1]}", False, [t[g]["change"] for t in per]))
        for step, neighbours, values in steps:
            m, lo, hi = interval(values)
            rows.append(dict(granularity=g, step=step, neighbours=neighbours, n_seeds=len(values),
                             n_units=per[0][g]["n_units"], mean_change=m, low=lo, high=hi,
                             trend=_trend_word(m, lo, hi)))
    return pd.DataFrame(rows).assign(statistic=statistic_label(statistic, size))


def trend_reversals(by_batch: pd.DataFrame, by_image: pd.DataFrame) -> pd.DataFrame:
    """The (granularity, step) rows of two `trend_over_seeds` tables, the paper's statistic
    and ours, whose `trend` differs: a reading of Fig. 5 that depends on the statistic."""
    m = by_batch.merge(by_image, on=["granularity", "step"], suffixes=("_batch", "_image"))
    return m[m.trend_batch != m.trend_image][["granularity", "step", "trend_batch", "trend_image"]]
