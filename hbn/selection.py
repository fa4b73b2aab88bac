"""Choosing the operating point: granularity selectors as scores and their accuracy–specificity
curves in one pass.

A selector scores each image at a branch; answering fine for the highest-scoring share and
coarse for the rest traces an accuracy–specificity curve (Deng et al., *Hedging your bets*,
CVPR 2012; Valmadre, *Hierarchical classification at multiple operating points*, NeurIPS 2022:
every operating point of a score from one sort). The paper's τ rule (Algorithm 1's test
e_f − τ < e_c) is the score e_c − e_f; AG-HBN's semantic exit (eq. 12) is P(fine) swept over its
threshold rather than fixed at 0.5. Accuracy targets and FLOPs budgets chosen from records are
in `hbn.targets`. Arrays `a` are `hbn.records.as_arrays` output; `b` is a 0-based exit column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def semantic_target(a: dict, fine_weight: float) -> np.ndarray:
    """(N,) bools: eq. (8) on records — fine where w_f × (exits right at fine) > (exits right
    at coarse). Post-training computes the same rule on augmented training images (with dropout
    when post_mode is "train"); on records it is the deterministic pass's version."""
    fine_right = (a["fine_pred"] == a["fine_true"][:, None]).sum(1)
    coarse_right = (a["coarse_pred"] == a["coarse_true"][:, None]).sum(1)
    return fine_right * fine_weight > coarse_right


def roc_auc(score, y) -> float:
    """P(a random positive scores above a random negative), ties counting half (Mann–Whitney
    U / n1 n0): 0.5 for a score no better than a constant, such as always the majority answer.
    NaN when y has one class only."""
    y = np.asarray(y, bool)
    s = _check_score(score, len(y))
    n1, n0 = int(y.sum()), int((~y).sum())
    if not n1 or not n0:
        return float("nan")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def roc_auc_interval(auc: float, n1: int, n0: int, z: float = 1.96) -> tuple[float, float]:
    """Normal-approximation interval of a ROC AUC with Hanley and McNeil's (1982) standard
    error, for n1 positives and n0 negatives, clipped to [0, 1]."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n0 - 1) * (q2 - auc ** 2)) / (n1 * n0)
    se = math.sqrt(max(var, 0.0))
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


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


# What a learned selector predicts. "fine right" is the obvious target; "no loss" is ours: an
# image whose fine answer is wrong while its coarse answer is right is the only one that costs
# accuracy when it answers fine, so a perfect "no loss" predictor keeps all-coarse accuracy up
# to the largest specificity any rule can (it does not order the gains as the oracle does).
LEARNED = {"fine right": "learned: fine right (ours)", "no loss": "learned: fine loses nothing (ours)"}


def learned_target(a: dict, b: int, target: str) -> np.ndarray:
    """(N,) bools a learned selector is fitted to predict at branch b (see LEARNED)."""
    f, c, _ = outcomes(a, b)
    if target == "fine right":
        return f
    if target == "no loss":
        return f | ~c
    raise ValueError(f"unknown learned-selector target {target!r}; choose from {', '.join(LEARNED)}")


@dataclass(frozen=True)
class Learned:
    """Logistic regression P(target | features(a, branch)), standardised inputs."""
    branch: int
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray  # (F,)
    bias: float
    target: str = "fine right"

    @property
    def label(self) -> str:
        return LEARNED[self.target]

    def __call__(self, a: dict, b: int | None = None) -> np.ndarray:
        if b is not None and b != self.branch:
            raise ValueError(f"fitted for exit column {self.branch}, asked for {b}")
        z = (features(a, self.branch) - self.mean) / self.std @ self.weights + self.bias
        return _sigmoid(z)


def fit_learned(a: dict, b: int, target: str = "fine right", l2: float = 1e-2,
                iters: int = 100) -> Learned:
    """Fit on (validation) records by Newton's method on the L2-penalised mean log loss."""
    x = features(a, b)
    y = learned_target(a, b, target).astype(np.float64)
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
    return Learned(b, mean, std, w[:-1], float(w[-1]), target)


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


def selector_curves(a: dict, b: int, learned=(), ag: dict | None = None) -> pd.DataFrame:
    """Long table of curves at branch b: τ, max-prob gap, the fitted `learned` selectors
    (Learned or a sequence of them), oracle on `a`; AG-HBN's semantic P(fine) on AG-HBN's own
    records `ag` (another network)."""
    f, c, h = outcomes(a, b)
    parts = {PAPER_TAU: curve(entropy_gap(a, b), f, c, h),
             "max-prob gap (ours)": curve(maxprob_gap(a, b), f, c, h)}
    for m in ([learned] if isinstance(learned, Learned) else learned or ()):
        parts[m.label] = curve(m(a, b), f, c, h)
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



def cut_for_specificity(val_prob, target: float) -> float:
    """Eq. (12)'s cut on P(fine) chosen on validation records for a target specificity: the
    value c such that a share `target` of the validation images has P(fine) > c (the paper's
    cut is 0.5). The cut is then applied, unchanged, to the test images."""
    p = np.asarray(val_prob, np.float64)
    if not 0 < target < 1:
        raise ValueError(f"target specificity must lie strictly between 0 and 1, got {target}")
    if np.isnan(p).any():
        raise ValueError("sem_prob_fine has NaN: only AG-HBN has a semantic exit")
    return float(np.quantile(p, 1 - target))
