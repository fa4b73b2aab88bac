"""Metrics over exit records: accuracy, specificity (eq. 13), τ sweeps (Fig. 3), operating
regions (Table II), oracle and forced-exit accuracies (Fig. 4); Fig. 5's entropy statistics
are in `hbn.entropies`.

Everything reads `hbn.records.as_arrays` output `a` (arrays of shape (N images, n_exits)).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import routing as R

ARRAY_KEYS = ("fine_pred", "fine_pred_coarse", "coarse_pred", "fine_entropy", "coarse_entropy",
              "fine_true", "coarse_true", "exits")


def _check(a: dict) -> None:
    missing = [k for k in ARRAY_KEYS if k not in a]
    if missing:
        raise ValueError(f"records arrays lack {missing}; build them with hbn.records.as_arrays")


def _correct(a: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, B) bools: fine right, coarse right, fine answer right at coarse level."""
    _check(a)
    ft, ct = np.asarray(a["fine_true"])[:, None], np.asarray(a["coarse_true"])[:, None]
    return (np.asarray(a["fine_pred"]) == ft, np.asarray(a["coarse_pred"]) == ct,
            np.asarray(a["fine_pred_coarse"]) == ct)


def _exit_number(a: dict, branch) -> int:
    return int(np.asarray(a["exits"])[branch])


def score(a: dict, exit_index, is_fine, mode: str = "sample", batch_size: int = 512,
          flops=None) -> dict:
    """Accuracy, specificity δ (eq. 13), hierarchical accuracy, exit shares (and mean FLOPs).

    Each image is scored at the granularity it was answered at; hierarchical accuracy scores
    every answer at the coarse level (a fine answer via its superclass). δ is the share of fine
    answers: per image in sample mode, the mean over chunks of each chunk's fine share in batch
    mode. `flops`: one cost per exit (e.g. hbn.cost.exit_flops).
    """
    fine_ok, coarse_ok, hier_ok = _correct(a)
    n, n_exits = fine_ok.shape
    e = R.as_numpy(exit_index, np.int64)
    f = R.as_numpy(is_fine, bool)
    if e.shape != (n,) or f.shape != (n,):
        raise ValueError(f"exit_index and is_fine must have shape ({n},)")
    if e.min() < 0 or e.max() >= n_exits:
        raise ValueError(f"exit_index must lie in [0, {n_exits})")
    rows = np.arange(n)
    for g, used in (("fine", f), ("coarse", ~f)):
        if np.any(np.asarray(a[f"{g}_pred"])[rows, e][used] < 0):
            raise ValueError(f"some images answer {g} at an exit that has no {g} head")
    starts = R.decision_units(n, mode, batch_size)
    out = {
        "accuracy": float(np.where(f, fine_ok[rows, e], coarse_ok[rows, e]).mean()),
        "specificity": float(R.unit_means(f.astype(np.float64), starts).mean()),
        "hierarchical_accuracy": float(np.where(f, hier_ok[rows, e], coarse_ok[rows, e]).mean()),
        "exit_share": (np.bincount(e, minlength=n_exits) / n).tolist(),
    }
    if flops is not None:
        flops = np.asarray(flops, dtype=np.float64)
        if flops.shape != (n_exits,):
            raise ValueError(f"flops must have one value per exit ({n_exits})")
        out["mean_flops"] = float(flops[e].mean())
    return out


# --- τ sweeps ------------------------------------------------------------------------------------

def _sweep(uf, uc, th, counts, taus):
    """Exact Algorithm 1 outcomes for every τ at once, on decision units.

    uf, uc: (M, B) unit mean entropies; counts: (M, B) per-unit counts of fine-right,
    coarse-right, fine-right-at-coarse-level, plus "size" (M,). Per unit the answer depends
    only on which d_n = e_f - e_c lie below τ, i.e. on how many of its sorted d_n do, so each
    unit has B + 1 possible outcomes; their differences sit at the sorted d_n. Summing those
    steps over units (sort + cumsum) and reading them at each τ (searchsorted) gives every
    τ's totals in O(MB log MB + T log MB).
    """
    m, b = uf.shape
    d = R.fine_margin(uf, uc)
    order = np.argsort(d, axis=1, kind="stable")
    rank = np.argsort(order, axis=1)
    level_cond = rank[:, None, :] < np.arange(b + 1)[None, :, None]  # (M, B+1 levels, B)
    rep = lambda x: np.repeat(x[:, None, :], b + 1, axis=1).reshape(-1, b)  # noqa: E731
    e, f = R.algorithm1(rep(uf), rep(uc), th, level_cond.reshape(-1, b),
                        np.ones((m * (b + 1), b), bool))
    e, f = e.reshape(m, b + 1), f.reshape(m, b + 1)
    rows = np.arange(m)[:, None]
    size = counts["size"][:, None]
    per_level = {  # (M, B+1) totals per unit and level
        "correct": np.where(f, counts["fine"][rows, e], counts["coarse"][rows, e]),
        "hier": np.where(f, counts["hier"][rows, e], counts["coarse"][rows, e]),
        "fine_units": f.astype(np.int64),
    }
    for k in range(b):
        per_level[f"exit{k}"] = np.where(e == k, size, 0)
    steps_at = np.take_along_axis(d, order, axis=1).reshape(-1)  # (M*B,) sorted per unit
    by_tau = np.argsort(steps_at, kind="stable")
    where = np.searchsorted(steps_at[by_tau], taus, side="left")  # steps with d < τ
    out = {}
    for name, v in per_level.items():
        steps = np.diff(v, axis=1).reshape(-1)[by_tau]
        out[name] = v[:, 0].sum() + np.concatenate([[0], np.cumsum(steps)])[where]
    return out


def tau_sweep(a: dict, taus, branch: int | None = None, mode: str = "sample",
              batch_size: int = 512, threshold=None, flops=None) -> pd.DataFrame:
    """Accuracy, specificity and hierarchical accuracy at every τ in `taus`.

    branch: 0-based exit column for a forced exit there (Fig. 3), or None for Algorithm 1's
    dynamic early exit with `threshold` (scalar or per exit). Exact: equals calling the
    routing rules once per τ. Columns also give the rule, branch, 1-based `exit` number,
    mode and batch size (sample mode = chunks of 1 image); dynamic sweeps add exit shares
    (and mean FLOPs when `flops` is given).
    """
    fine_ok, coarse_ok, hier_ok = _correct(a)
    taus = R.as_numpy(taus).reshape(-1)
    if np.isnan(taus).any():
        raise ValueError("taus contain NaN")
    n, n_exits = fine_ok.shape
    cols = list(range(n_exits)) if branch is None else [branch]
    if branch is not None and not 0 <= branch < n_exits:
        raise ValueError(f"branch must be in [0, {n_exits}) (0-based), got {branch}")
    if branch is None and threshold is None:
        raise ValueError("a dynamic sweep (branch=None) needs a threshold")
    th = R.thresholds(np.inf if branch is not None else threshold, len(cols))
    ef, ec = R.entropy_pair(np.asarray(a["fine_entropy"])[:, cols],
                            np.asarray(a["coarse_entropy"])[:, cols])
    starts = R.decision_units(n, mode, batch_size)
    sums = lambda x: np.add.reduceat(x[:, cols].astype(np.int64), starts, axis=0)  # noqa: E731
    counts = {"fine": sums(fine_ok), "coarse": sums(coarse_ok), "hier": sums(hier_ok),
              "size": np.diff(np.append(starts, n))}
    tot = _sweep(R.unit_means(ef, starts), R.unit_means(ec, starts), th, counts, taus)
    df = pd.DataFrame({
        "tau": taus, "accuracy": tot["correct"] / n,
        "specificity": tot["fine_units"] / len(starts),
        "hierarchical_accuracy": tot["hier"] / n,
        "rule": "dynamic" if branch is None else "forced",
        "branch": branch, "exit": None if branch is None else _exit_number(a, branch),
        "mode": mode, "batch_size": 1 if mode == "sample" else int(batch_size)})
    if branch is None:
        shares = np.stack([tot[f"exit{k}"] / n for k in range(n_exits)], 1)  # (T, B)
        for k in range(n_exits):
            df[f"exit_share_{_exit_number(a, k)}"] = shares[:, k]
        if flops is not None:
            df["mean_flops"] = shares @ np.asarray(flops, dtype=np.float64)
    return df


def paper_tau_grid() -> np.ndarray:
    """The authors' τ grid, `np.arange(0.0, 1.0, 0.02)`: 0.00 to 0.98, 50 values (rounded to
    two decimals so that 0.46 in the grid is the float 0.46)."""
    return np.round(np.arange(0.0, 1.0, 0.02), 2)


def wide_tau_grid(a: dict, n: int = 1001, margin: float = 0.05) -> np.ndarray:
    """`n` evenly spaced τ spanning every d = e_f - e_c in the records, plus `margin` x range
    each side, so both ends have specificity 0 and 1 at every branch and batch size."""
    d = np.asarray(a["fine_entropy"], np.float64) - np.asarray(a["coarse_entropy"], np.float64)
    d = d[np.isfinite(d)]
    if not len(d):
        raise ValueError("no exit has both a fine and a coarse head")
    lo, hi = d.min(), d.max()
    pad = margin * (hi - lo if hi > lo else 1.0)
    return np.linspace(lo - pad, hi + pad, n)


# --- operating regions (Table II) ---------------------------------------------------------------

def operating_region(sweep: pd.DataFrame) -> dict:
    """Paper Table II's operating region of one sweep (one branch, mode, batch size).

    start = the last grid τ with specificity δ = 0, end = the first grid τ with δ = 1,
    size = end - start; n_points = grid points with 0 < δ < 1. This is the definition that
    gives the paper's Table II from the authors' own Fig. 3 data (DESIGN.md §5): taking the
    first and last τ strictly inside (0, 1) instead makes every region one grid step too
    small on each side, a single interior point a region of size 0, and a jump from 0 to 1
    between neighbouring τ no region at all. Here that jump gives size = one grid step.

    A limit the grid does not reach is NaN with `start_beyond_grid` / `end_beyond_grid` set:
    start when δ > 0 already at the grid's first τ (or δ = 0 on the whole grid), end when
    δ < 1 still at its last τ (or δ = 1 on the whole grid). A grid edge is never reported as a
    limit. `region` says it in words, e.g. "0.46–0.54" or "0.46–beyond the grid (above)".

    Resolution: each limit is a grid point, the true one lies within one grid step inside it,
    so the true width is in (size - 2 step, size]. `step` = the larger grid spacing next to
    the two limits; with no point strictly inside (`narrower_than_step`) `region` says
    "narrower than the grid step" instead of printing an interval.
    """
    keys = [c for c in ("rule", "branch", "mode", "batch_size") if c in sweep]
    if keys and len(sweep[keys].astype(str).drop_duplicates()) > 1:
        raise ValueError(f"operating_region needs one sweep; split by {keys} first")
    s = sweep.sort_values("tau")
    tau, spec = s["tau"].to_numpy(float), s["specificity"].to_numpy(float)
    if np.any(np.diff(spec) < 0):
        raise ValueError("specificity must not fall as τ grows (Algorithm 1 never does)")
    zero, one = np.flatnonzero(spec == 0), np.flatnonzero(spec == 1)
    # a limit is seen only if the grid has a point on each side of it
    start = float(tau[zero[-1]]) if len(zero) and zero[-1] < len(tau) - 1 else np.nan
    end = float(tau[one[0]]) if len(one) and one[0] > 0 else np.nan
    # the grid's own precision for the text: 0.50 on the authors' grid; on another grid the
    # decimals of its step (a 1,001-point grid over 0-0.3: 4), one way for every limit
    dec = next((d for d in range(5) if np.allclose(tau, np.round(tau, d), rtol=0, atol=1e-9)),
               None)
    if dec is None:
        step = float(np.min(np.diff(tau))) if len(tau) > 1 else 1.0
        dec = max(2, -int(np.floor(np.log10(step)))) if step > 0 else 4
    num = lambda x: f"{x:.{dec}f}".replace("-", "−")  # noqa: E731 (a true minus, as in prose)
    inside = int(np.sum((spec > 0) & (spec < 1)))
    gaps = ([tau[zero[-1] + 1] - tau[zero[-1]]] if np.isfinite(start) else []) + \
        ([tau[one[0]] - tau[one[0] - 1]] if np.isfinite(end) else [])
    narrow = bool(np.isfinite(start) and np.isfinite(end) and inside == 0)
    if np.isnan(start) and np.isnan(end) and not inside:
        where = "above" if spec[0] == 0 else "below"  # δ = 0 (or 1) on the whole grid
        text = f"beyond the grid ({where})"
    elif narrow:  # δ jumps from 0 to 1 between neighbouring τ: the grid cannot measure it
        mid = (start + end) / 2
        text = f"narrower than the grid step, at τ ≈ {mid:.{dec + 1}f}"
    elif np.isnan(start) and np.isnan(end):  # 0 < δ < 1 on the whole grid
        text = "wider than the grid (0 < δ < 1 on all of it)"
    else:
        text = (("beyond the grid (below)" if np.isnan(start) else num(start)) + "–"
                + ("beyond the grid (above)" if np.isnan(end) else num(end)))
    return dict(start=start, end=end, size=end - start, n_points=inside,
                start_beyond_grid=bool(np.isnan(start)), end_beyond_grid=bool(np.isnan(end)),
                region=text, step=float(max(gaps)) if gaps else np.nan,
                narrower_than_step=narrow)


def _both_heads(a: dict) -> list[int]:
    both = ~np.isnan(a["fine_entropy"]).any(0) & ~np.isnan(a["coarse_entropy"]).any(0)
    return np.flatnonzero(both).tolist()


def operating_regions(a: dict, taus, modes=("sample", "batch"),
                      batch_sizes=(512,)) -> pd.DataFrame:
    """`operating_region` (Table II's definition) per branch with both heads x mode x batch
    size, forced exits. Sample mode does not depend on batch size: one row (batch_size 1)."""
    rows = []
    for b in _both_heads(a):
        for mode in modes:
            for bs in (batch_sizes if mode == "batch" else (1,)):
                sw = tau_sweep(a, taus, branch=b, mode=mode, batch_size=bs)
                rows.append(dict(branch=b, exit=_exit_number(a, b), mode=mode, batch_size=bs,
                                 **operating_region(sw)))
    return pd.DataFrame(rows)


def tau_at_half(sweep: pd.DataFrame) -> float:
    """τ where one sweep's specificity first reaches δ = 0.5, linear between the two grid
    points around it; NaN when δ ≥ 0.5 at the grid's first τ or never reaches 0.5."""
    s = sweep.sort_values("tau")
    tau, spec = s["tau"].to_numpy(float), s["specificity"].to_numpy(float)
    i = int(np.argmax(spec >= 0.5))
    if spec[i] < 0.5 or i == 0:
        return np.nan
    return float(np.interp(0.5, spec[i - 1:i + 1], tau[i - 1:i + 1]))


def scale_free_region(sweep: pd.DataFrame, scale: float | None = None) -> dict:
    """`operating_region(sweep)` plus `tau_half` (`tau_at_half`) and its limits, size, step
    and smallest possible width (size - 2 steps, at least 0) divided by `scale`, as
    `*_scaled`; default scale: the sweep's own τ at δ = 0.5, so that a region reads as a
    fraction of where it sits whatever the entropies' scale. NaN where scale is not > 0."""
    r = operating_region(sweep)
    half = tau_at_half(sweep)
    scale = half if scale is None else float(scale)
    k = 1 / scale if np.isfinite(scale) and scale > 0 else np.nan
    low = max(r["size"] - 2 * r["step"], 0.0) if np.isfinite(r["size"]) else np.nan
    return dict(r, tau_half=half, scale=scale, start_scaled=r["start"] * k,
                end_scaled=r["end"] * k, size_scaled=r["size"] * k, step_scaled=r["step"] * k,
                size_low_scaled=low * k)


def median_entropy_gap(a: dict) -> np.ndarray:
    """Per exit column: the median over images of |e_f - e_c| (nats), the scale of the
    per-image fine-coarse entropy gap Algorithm 1's τ is compared with; NaN without both heads."""
    d = np.abs(np.asarray(a["fine_entropy"], np.float64) - np.asarray(a["coarse_entropy"], np.float64))
    return np.array([np.median(c) if np.isfinite(c).all() else np.nan for c in d.T])


def scale_free_regions(a: dict, taus, mode: str = "batch", batch_size: int = 512) -> pd.DataFrame:
    """Per branch with both heads, forced exits: the operating region on `taus` (Table II's
    definition) in two scale-free units. `median_gap` = `median_entropy_gap`, `tau_half` = τ at
    δ = 0.5; `*_per_gap` and `*_per_half` are τ values divided by each (start, end, size,
    step; `size_low_per_half`: the smallest width the grid allows). Use a fine grid
    (`wide_tau_grid`): on a coarse one the sizes are mostly the grid's step."""
    rows = []
    gap = median_entropy_gap(a)
    for b in _both_heads(a):
        r = scale_free_region(tau_sweep(a, taus, branch=b, mode=mode, batch_size=batch_size))
        row = dict(branch=b, exit=_exit_number(a, b), mode=mode,
                   batch_size=1 if mode == "sample" else batch_size, median_gap=float(gap[b]),
                   **{k: v for k, v in r.items() if not k.endswith("_scaled") and k != "scale"})
        for q in ("start", "end", "size", "step"):
            row[f"{q}_per_gap"] = r[q] / gap[b] if gap[b] > 0 else np.nan
            row[f"{q}_per_half"] = r[f"{q}_scaled"]
        row["size_low_per_half"] = r["size_low_scaled"]
        rows.append(row)
    return pd.DataFrame(rows)


def region_vs_batch_size(a: dict, taus=None, batch_sizes=(1, 8, 64, 512)) -> pd.DataFrame:
    """How the operating region changes with the test batch size (batch-mean decisions).
    The paper notes it grows as the batch shrinks (§VI-A). Default grid: `wide_tau_grid`,
    which reaches δ = 0 and δ = 1 at every batch size, so no limit lies beyond it."""
    taus = wide_tau_grid(a) if taus is None else taus
    return operating_regions(a, taus, modes=("batch",), batch_sizes=batch_sizes)


# --- oracle and forced-exit accuracies (Fig. 4) -------------------------------------------------

def oracle(a: dict) -> pd.DataFrame:
    """Per branch: the oracle answers fine iff its fine head is right, else coarse; its
    accuracy (right at either level), the specificity that implies, and the all-fine /
    all-coarse accuracies for comparison. NaN where the branch lacks a head."""
    fine_ok, coarse_ok, _ = _correct(a)
    rows = []
    for b in range(fine_ok.shape[1]):
        has_f, has_c = (bool((a[f"{g}_pred"][:, b] >= 0).all()) for g in ("fine", "coarse"))
        both = has_f and has_c
        rows.append(dict(
            branch=b, exit=_exit_number(a, b),
            oracle_accuracy=float((fine_ok[:, b] | coarse_ok[:, b]).mean()) if both else np.nan,
            oracle_specificity=float(fine_ok[:, b].mean()) if both else np.nan,
            all_fine_accuracy=float(fine_ok[:, b].mean()) if has_f else np.nan,
            all_coarse_accuracy=float(coarse_ok[:, b].mean()) if has_c else np.nan))
    return pd.DataFrame(rows)


def forced_accuracy(a: dict) -> pd.DataFrame:
    """Per branch, every image forced to exit there (Fig. 4 / DESIGN.md §5): accuracy at
    specificity 0 (all coarse) and 1 (all fine), and the hierarchical accuracy of each."""
    fine_ok, coarse_ok, hier_ok = _correct(a)
    rows = []
    for b in range(fine_ok.shape[1]):
        has_f, has_c = (bool((a[f"{g}_pred"][:, b] >= 0).all()) for g in ("fine", "coarse"))
        rows.append(dict(
            branch=b, exit=_exit_number(a, b),
            accuracy_spec0=float(coarse_ok[:, b].mean()) if has_c else np.nan,
            accuracy_spec1=float(fine_ok[:, b].mean()) if has_f else np.nan,
            hierarchical_accuracy_spec0=float(coarse_ok[:, b].mean()) if has_c else np.nan,
            hierarchical_accuracy_spec1=float(hier_ok[:, b].mean()) if has_f else np.nan))
    return pd.DataFrame(rows)
