"""Choosing the operating point: granularity selectors as scores, their accuracy–specificity
curves in one pass, and thresholds chosen on validation records with a finite-sample guarantee.

A selector scores each image at a branch; answering fine for the highest-scoring share and
coarse for the rest traces an accuracy–specificity curve (Deng et al., *Hedging your bets*,
CVPR 2012; Valmadre, *Hierarchical classification at multiple operating points*, NeurIPS 2022:
every operating point of a score from one sort). The paper's τ rule (Algorithm 1's test
e_f − τ < e_c) is the score e_c − e_f; AG-HBN's semantic exit (eq. 12) is P(fine) swept over its
threshold rather than fixed at 0.5. Targets: as Goren, Galil and El-Yaniv (*Hierarchical
selective classification*, NeurIPS 2024) calibrate a threshold on held-out data so that a target
accuracy holds with high probability, τ (and Th) are chosen on validation records only, with a
one-sided Clopper–Pearson bound and fixed-sequence testing along a data-independent grid.
Arrays `a` are `hbn.records.as_arrays` output; `b` is a 0-based exit column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import analysis as A

# --- selectors: one score per image, higher = answer fine sooner ---------------------------------

def outcomes(a: dict, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) bools at branch b: fine answer right, coarse answer right, fine answer right at
    the coarse level (hierarchical accuracy)."""
    if (a["fine_pred"][:, b] < 0).any() or (a["coarse_pred"][:, b] < 0).any():
        raise ValueError(f"exit column {b} lacks a fine or a coarse head")
    ct = a["coarse_true"]
    return a["fine_pred"][:, b] == a["fine_true"], a["coarse_pred"][:, b] == ct, \
        a["fine_pred_coarse"][:, b] == ct


def entropy_gap(a: dict, b: int) -> np.ndarray:
    """The paper's τ rule: fine iff e_f − τ < e_c, i.e. iff e_c − e_f > −τ (bit for bit)."""
    return a["coarse_entropy"][:, b] - a["fine_entropy"][:, b]


def maxprob_gap(a: dict, b: int) -> np.ndarray:
    """Max fine softmax probability minus max coarse softmax probability."""
    return a["fine_maxprob"][:, b] - a["coarse_maxprob"][:, b]


def semantic(a: dict, b: int = 0) -> np.ndarray:
    """AG-HBN's P(answer fine) from its semantic exit (on branch 1; the same at every branch)."""
    p = np.asarray(a["sem_prob_fine"], np.float64)
    if np.isnan(p).any():
        raise ValueError("sem_prob_fine has NaN: only AG-HBN has a semantic exit")
    return p


def oracle(a: dict, b: int) -> np.ndarray:
    """Fine where only the fine answer is right (2), then where both are (1), then where
    neither is (0), then where only coarse is (−1): every prefix is the best of its size,
    so this curve bounds every selector at every specificity."""
    f, c, _ = outcomes(a, b)
    return 2.0 * f - c


FEATURES = ("fine_entropy", "coarse_entropy", "fine_maxprob", "coarse_maxprob",
            "entropy_gap", "maxprob_gap", "agree")


def features(a: dict, b: int) -> np.ndarray:
    """(N, 7 (b+1)): per exit up to b (what an image has computed when it reaches b) its two
    entropies, two max probabilities, their gaps, and 1 where the fine answer's superclass is
    the coarse answer."""
    cols = []
    for j in range(b + 1):
        ef, ec = a["fine_entropy"][:, j], a["coarse_entropy"][:, j]
        pf, pc = a["fine_maxprob"][:, j], a["coarse_maxprob"][:, j]
        agree = a["fine_pred_coarse"][:, j] == a["coarse_pred"][:, j]
        cols += [ef, ec, pf, pc, ec - ef, pf - pc, agree]
    x = np.stack(cols, 1).astype(np.float64)
    if np.isnan(x).any():
        raise ValueError("features have NaN: every exit up to the branch needs both heads")
    return x


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


@dataclass(frozen=True)
class Learned:
    """Logistic regression P(fine answer right | features(a, branch)), standardised inputs."""
    branch: int
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (F,)
    bias: float

    def __call__(self, a: dict, b: int | None = None) -> np.ndarray:
        if b is not None and b != self.branch:
            raise ValueError(f"fitted for exit column {self.branch}, asked for {b}")
        z = (features(a, self.branch) - self.mean) / self.std @ self.weights + self.bias
        return _sigmoid(z)


def fit_learned(a: dict, b: int, l2: float = 1e-2, iters: int = 100) -> Learned:
    """Fit on (validation) records by Newton's method on the L2-penalised mean log loss."""
    x = features(a, b)
    y = outcomes(a, b)[0].astype(np.float64)
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # bias last, not penalised
    pen = np.full(z.shape[1], l2)
    pen[-1] = 0.0
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = _sigmoid(z @ w)
        grad = z.T @ (p - y) / len(y) + pen * w
        hess = (z * (p * (1 - p))[:, None]).T @ z / len(y) + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return Learned(b, mean, std, w[:-1], float(w[-1]))


# --- one-pass sweeps ------------------------------------------------------------------------------

def _check_score(score, n: int) -> np.ndarray:
    s = np.asarray(score, np.float64)
    if s.shape != (n,) or np.isnan(s).any():
        raise ValueError(f"score must be a NaN-free array of shape ({n},)")
    return s


def _prefix(s, fine_ok, coarse_ok, hier_ok):
    """Descending scores and the correct / hierarchically correct counts when the top k
    images (k = 0..N) answer fine and the rest coarse."""
    order = np.argsort(-s, kind="stable")
    c = coarse_ok[order].astype(np.int64)
    cum = lambda ok: int(c.sum()) + np.concatenate([[0], np.cumsum(ok[order] - c)])  # noqa: E731
    return s[order], cum(fine_ok.astype(np.int64)), cum(hier_ok.astype(np.int64))


def at_cuts(score, fine_ok, coarse_ok, hier_ok, cuts) -> pd.DataFrame:
    """Fine iff score > cut, for every cut at once: counts, specificity δ, accuracies."""
    n = len(fine_ok)
    s = _check_score(score, n)
    desc, correct, hier = _prefix(s, fine_ok, coarse_ok, hier_ok)
    cuts = np.asarray(cuts, np.float64)
    k = n - np.searchsorted(desc[::-1], cuts, side="right")  # images with score > cut
    return pd.DataFrame({"cut": cuts, "n_fine": k, "correct": correct[k], "n": n,
                         "specificity": k / n, "accuracy": correct[k] / n,
                         "hierarchical_accuracy": hier[k] / n})


def curve(score, fine_ok, coarse_ok, hier_ok=None) -> pd.DataFrame:
    """Every operating point a threshold on the score reaches, δ = 0 to 1 (tied scores move
    together; linear interpolation between points is the mean over tie orders)."""
    hier_ok = coarse_ok if hier_ok is None else hier_ok
    n = len(fine_ok)
    desc, correct, hier = _prefix(_check_score(score, n), fine_ok, coarse_ok, hier_ok)
    k = np.flatnonzero(np.concatenate([[True], desc[1:] < desc[:-1], [True]]))
    return pd.DataFrame({"n_fine": k, "specificity": k / n, "accuracy": correct[k] / n,
                         "hierarchical_accuracy": hier[k] / n})


def auc(c: pd.DataFrame) -> float:
    """Area under accuracy against δ over [0, 1] (trapezoids)."""
    x, y = c["specificity"].to_numpy(), c["accuracy"].to_numpy()
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def specificity_kept(c: pd.DataFrame, drop: float = 0.005) -> float:
    """Largest δ whose accuracy is at least the all-coarse accuracy (δ = 0) minus `drop`."""
    base = float(c.loc[c["specificity"] == 0, "accuracy"].iloc[0])
    return float(c.loc[c["accuracy"] >= base - drop - 1e-12, "specificity"].max())


PAPER_TAU, PAPER_SEMANTIC = "entropy gap (τ, paper)", "AG-HBN P(fine) (paper's exit, swept)"


def selector_curves(a: dict, b: int, learned: Learned | None = None,
                    ag: dict | None = None) -> pd.DataFrame:
    """Long table of curves at branch b: τ, max-prob gap, learned (if fitted), oracle on `a`;
    AG-HBN's semantic P(fine) on AG-HBN's own records `ag` (another network)."""
    f, c, h = outcomes(a, b)
    parts = {PAPER_TAU: curve(entropy_gap(a, b), f, c, h),
             "max-prob gap (ours)": curve(maxprob_gap(a, b), f, c, h)}
    if learned is not None:
        parts["learned (ours)"] = curve(learned(a, b), f, c, h)
    parts["oracle (bound)"] = curve(oracle(a, b), f, c, h)
    if ag is not None:
        parts[PAPER_SEMANTIC] = curve(semantic(ag), *outcomes(ag, b))
    e = int(a["exits"][b])
    return pd.concat([p.assign(selector=k, branch=b, exit=e) for k, p in parts.items()],
                     ignore_index=True)


def curve_summary(curves: pd.DataFrame, drop: float = 0.005) -> pd.DataFrame:
    """Per selector and exit: area under the curve and δ kept at all-coarse accuracy − drop."""
    rows = [dict(selector=s, exit=e, auc=auc(g), specificity_kept=specificity_kept(g, drop),
                 all_coarse_accuracy=float(g["accuracy"].iloc[0]))
            for (s, e), g in curves.groupby(["selector", "exit"], sort=False)]
    return pd.DataFrame(rows)


# --- a target that holds: Clopper–Pearson and fixed-sequence testing ------------------------------

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
        return dict(out, Th=np.nan, tau=np.nan, val_accuracy=np.nan, val_specificity=np.nan,
                    val_mean_flops=np.nan, lower_bound=np.nan)
    by, asc = {"specificity": (["specificity", "mean_flops"], [False, True]),
               "flops": (["mean_flops", "specificity"], [True, False])}[objective]
    r = ok.sort_values(by, ascending=asc, kind="stable").iloc[0]
    return dict(out, Th=float(r["Th"]), tau=float(r["tau"]), val_accuracy=float(r["accuracy"]),
                val_specificity=float(r["specificity"]), val_mean_flops=float(r["mean_flops"]),
                lower_bound=clopper_pearson_lower(int(r["correct"]), n, 1 - alpha))


def choose_for_budget(table: pd.DataFrame, budget: float) -> dict:
    """Most accurate point with mean FLOPs <= budget on these records (then most fine answers)."""
    ok = table[table["mean_flops"] <= budget]
    if not len(ok):
        return dict(budget=budget, feasible=False, Th=np.nan, tau=np.nan, val_accuracy=np.nan,
                    val_specificity=np.nan, val_mean_flops=np.nan)
    r = ok.sort_values(["accuracy", "specificity"], ascending=False, kind="stable").iloc[0]
    return dict(budget=budget, feasible=True, Th=float(r["Th"]), tau=float(r["tau"]),
                val_accuracy=float(r["accuracy"]), val_specificity=float(r["specificity"]),
                val_mean_flops=float(r["mean_flops"]))


def on_records(a: dict, choice: dict, branch: int | None = None, flops=None) -> dict:
    """Accuracy, δ and mean FLOPs of a chosen (Th, τ) on other records (the test set)."""
    if np.isnan(choice["tau"]):  # nothing was certified / feasible
        return dict(accuracy=np.nan, specificity=np.nan, mean_flops=np.nan)
    if branch is not None:
        r = A.tau_sweep(a, [choice["tau"]], branch=branch).iloc[0]
        cost = float(flops[branch]) if flops is not None else np.nan
    else:
        r = A.tau_sweep(a, [choice["tau"]], threshold=choice["Th"], flops=flops).iloc[0]
        cost = float(r["mean_flops"]) if flops is not None else np.nan
    return dict(accuracy=float(r["accuracy"]), specificity=float(r["specificity"]), mean_flops=cost)
