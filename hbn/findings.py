"""The book's conclusions, computed from the exit records: every number and every verdict in a
`Finding` comes from the data, so re-executing a page re-writes its conclusion. The results
pages end with theirs ("What this shows"); the Findings page gathers them all.

Texts are MyST Markdown: `{numref}` links point at the labelled figure or table they rest on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import analysis as A
from . import entropies as E
from . import routing as R
from .study import AUTHORS_FORCED, AUTHORS_REGIONS, Study

AS_PAPER, UNLIKE_PAPER, BEYOND = "as in the paper", "unlike the paper", "beyond the paper"
# The authors' AG-HBN operating point (paper Fig. 4 / DESIGN.md §5: "specificity ≈ 0.75").
AUTHORS_AG_HBN_SPECIFICITY = 0.75
# Authors' per-exit MFLOPs (thop, CIFAR-100 shapes; DESIGN.md §2).
AUTHORS_MFLOPS = {"alexnet": [96.45], "gran-hbn": [31.78, 75.79, 136.05]}


@dataclass
class Finding:
    key: str
    title: str
    verdict: str  # AS_PAPER, UNLIKE_PAPER or BEYOND
    text: str  # MyST Markdown
    evidence: pd.DataFrame | None = None  # numbers no other table shows; label `evidence_label`

    @property
    def evidence_label(self) -> str:
        return f"tbl-finding-{self.key}"

    def markdown(self) -> str:
        return f"**{self.title}** — *{self.verdict}.* {self.text}"

    def _repr_markdown_(self) -> str:
        return self.markdown()


def _span(values, fmt: str = ".2f") -> str:
    lo, hi = np.nanmin(values), np.nanmax(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def _pct(values) -> str:
    return _span(100 * np.asarray(values, float)) + " %"


def coarse_above_fine(study: Study, seed: int = 0) -> Finding:
    """Forced exits: is Gran-HBN's all-coarse accuracy above its all-fine one at every branch?"""
    f = A.forced_accuracy(study.run("gran-hbn", seed).arrays)
    worse = f.exit[f.accuracy_spec0 <= f.accuracy_spec1].tolist()
    auth = AUTHORS_FORCED[AUTHORS_FORCED.model == "Gran-HBN"][["branch 1", "branch 2", "branch 3"]]
    verdict = "at every branch" if not worse else f"except at branch {', '.join(map(str, worse))}"
    return Finding(
        "coarse-above-fine", "Coarse answers are more accurate than fine ones",
        AS_PAPER if not worse else UNLIKE_PAPER,
        f"Forced to exit at a branch, Gran-HBN is right {_pct(f.accuracy_spec0)} of the time "
        f"answering coarse and {_pct(f.accuracy_spec1)} answering fine: coarse is ahead "
        f"{verdict}. The authors found the same order on CIFAR-100 "
        f"({_span(auth.iloc[0])} % against {_span(auth.iloc[1])} %). See {{numref}}`tbl-forced`.")


def operating_regions(study: Study, grid, decision_batch: int, seed: int = 0) -> Finding:
    """Batch-mode operating regions of τ (Table II) against the authors'."""
    r = A.operating_regions(study.run("gran-hbn", seed).arrays, grid, modes=("batch",),
                            batch_sizes=(decision_batch,))
    step = float(np.min(np.diff(grid))) if len(grid) > 1 else float("nan")
    a_size, a_mid = AUTHORS_REGIONS["size"], (AUTHORS_REGIONS.start + AUTHORS_REGIONS.end) / 2
    theirs = f"the authors report {_span(a_size)} around τ ≈ {_span(a_mid)}"
    if r["size"].isna().all():
        return Finding("regions", "Operating regions", UNLIKE_PAPER,
                       f"With one decision per batch of {decision_batch} images, no τ of the grid "
                       f"(step {step:.3g}) gives a specificity strictly between 0 and 1: every "
                       f"region is narrower than the grid step; {theirs}. See {{numref}}`fig-tau-sweep`.")
    mid = (r.start + r.end) / 2
    similar = r["size"].max() >= a_size.min() / 2 and abs(mid.mean() - a_mid.mean()) < 0.1
    return Finding(
        "regions", "Operating regions of τ", AS_PAPER if similar else UNLIKE_PAPER,
        f"With one decision per batch of {decision_batch} images (the authors' protocol), "
        f"Gran-HBN's specificity moves from 0 to 1 within τ ranges {_span(r['size'])} wide "
        f"(grid step {step:.3g}), around τ ≈ {_span(mid)}; {theirs} on CIFAR-100. "
        f"See {{numref}}`fig-tau-sweep` and {{numref}}`tbl-table2`.")


def region_vs_batch(study: Study, batch_sizes, seed: int = 0) -> Finding:
    """Does the operating region grow as the decision batch shrinks (paper §VI-A)?"""
    by = A.region_vs_batch_size(study.run("gran-hbn", seed).arrays, None, tuple(batch_sizes))
    grows = {e: bool(np.all(np.diff(g.sort_values("batch_size")["size"].to_numpy()) < 0))
             for e, g in by.groupby("exit")}
    first = by[by.exit == min(grows)].sort_values("batch_size")
    n = sum(grows.values())
    return Finding(
        "region-vs-batch", "Smaller decision batches widen the operating region",
        AS_PAPER if n == len(grows) else UNLIKE_PAPER,
        f"The region grows at every step from batch {max(batch_sizes)} down to "
        f"{min(batch_sizes)} at {n} of {len(grows)} branches (branch {min(grows)}: "
        f"{first['size'].iloc[-1]:.3f} wide at batch {first.batch_size.iloc[-1]}, "
        f"{first['size'].iloc[0]:.3f} at batch {first.batch_size.iloc[0]}), as the paper "
        f"remarks. See {{numref}}`tbl-region-vs-batch`.")


def semantic_exit(study: Study) -> Finding:
    """AG-HBN's operating point: how often its semantic exit says "fine", and whether its
    P(fine) ranks images better than the majority answer would."""
    from . import selection as S
    run = study.run("ag-hbn")
    a = run.arrays
    delta = float(R.ag_hbn_forced(a["sem_prob_fine"], mode="sample").mean())
    target = S.semantic_target(a, run.config.sem_fine_weight)
    auc = S.roc_auc(a["sem_prob_fine"], target)
    collapsed = ("it answers fine for every image" if delta == 1.0
                 else "it answers coarse for every image" if delta == 0.0
                 else f"it answers coarse for only {1 - delta:.1%} of them" if delta >= 0.99
                 else f"it answers fine for only {delta:.1%} of them" if delta <= 0.01
                 else "it mixes fine and coarse answers")
    if np.isfinite(auc):
        lo, hi = S.roc_auc_interval(auc, int(target.sum()), int((~target).sum()))
        one_sided = delta >= 0.99 or delta <= 0.01
        learned = ("it ranks images better than chance, so it has learned more than the majority "
                   "answer" + (", which eq. (12)'s cut at 0.5 does not use" if one_sided else "")
                   if lo > 0.5 else
                   "it ranks images worse than chance" if hi < 0.5 else
                   "it ranks images no better than chance: it has learned the majority answer only")
        ranks = (f" Against the eq. (8) target on test, which says fine for {target.mean():.2f} of the "
                 f"images, its P(fine) has ROC AUC {auc:.3f} (95% interval {lo:.3f}–{hi:.3f}; 0.5: no "
                 f"better than always giving the majority answer): {learned}.")
    else:
        ranks = f" The eq. (8) target says {'fine' if target.all() else 'coarse'} for every test image."
    near = abs(delta - AUTHORS_AG_HBN_SPECIFICITY) <= 0.1
    return Finding(
        "semantic-exit", "AG-HBN's semantic exit", AS_PAPER if near else UNLIKE_PAPER,
        f"The semantic exit answers fine for a share δ = {delta:.2f} of the test images: "
        f"{collapsed}. The authors' AG-HBN runs at δ ≈ {AUTHORS_AG_HBN_SPECIFICITY:.2f}.{ranks} "
        f"See {{numref}}`fig-comparison`.")


def entropy_depth(study: Study, seed: int = 0) -> Finding:
    """Do the median fine and coarse entropies fall with depth (paper Fig. 5)?"""
    a = study.run("gran-hbn", seed).arrays
    per, size = "batch", 64  # the paper's own statistic, so that the verdict compares like with like
    s, falls = E.entropy_summary(a, per, size), E.entropy_falls_with_depth(a, per, size)
    parts = []
    for g in ("fine", "coarse"):
        if g in falls:
            med = " → ".join(f"{v:.2f}" for v in s[f"{g}_median"].dropna())
            parts.append(f"the median {g} entropy {'falls' if falls[g] else 'does not fall'} "
                         f"with depth ({med} nats over the branches)")
    both = all(falls.values()) and falls
    return Finding(
        "entropy-depth", "Entropy against depth", AS_PAPER if both else UNLIKE_PAPER,
        f"In Gran-HBN ({E.statistic_label(per, size)}), " + "; ".join(parts)
        + ". The paper reads falling entropies off its "
        "Fig. 5. See {numref}`fig-entropy`.")


def routing_levels(study: Study, decision_batch: int, seed: int = 0) -> Finding:
    """How finely per-image and per-batch routing can set the specificity."""
    a = study.run("gran-hbn", seed).arrays
    wide = A.wide_tau_grid(a)
    n = {m: int(A.tau_sweep(a, wide, branch=0, mode=m, batch_size=decision_batch)
                .specificity.nunique()) for m in ("sample", "batch")}
    units = len(R.decision_units(len(a["fine_true"]), "batch", decision_batch))
    return Finding(
        "routing-levels", "Per-image routing sets the specificity finely", BEYOND,
        f"Over {len(wide):,} values of τ at branch 1, deciding per image reaches {n['sample']:,} "
        f"distinct specificities; deciding once per batch of {decision_batch} images reaches "
        f"{n['batch']} (at most {units + 1}: the test set makes {units} batches). "
        f"See {{numref}}`fig-routing-modes`.")


def oracle_gap(study: Study, seed: int = 0) -> Finding:
    """The oracle's accuracy against Gran-HBN's at the oracle's specificity (per image)."""
    a = study.run("gran-hbn", seed).arrays
    orc, wide = A.oracle(a), A.wide_tau_grid(a)
    gaps = []
    for b, e in enumerate(a["exits"]):
        c = A.tau_sweep(a, wide, branch=b, mode="sample")
        near = c.iloc[(c.specificity - orc.oracle_specificity[b]).abs().argmin()]
        gaps.append((e, orc.oracle_accuracy[b], near.accuracy))
    e, o, g = max(gaps, key=lambda t: t[1] - t[2])
    return Finding(
        "oracle-gap", "Room above Gran-HBN's decision rule", BEYOND,
        f"An oracle that answers fine exactly when the fine head is right is correct "
        f"{_pct([x[1] for x in gaps])} of the time; Gran-HBN at the same specificity reaches "
        f"{_pct([x[2] for x in gaps])}. The largest gap, {100 * (o - g):.1f} points at branch {e}, "
        f"bounds what a better fine/coarse decision could gain. See {{numref}}`tbl-oracle-gap`.")


def selectors(study: Study) -> Finding:
    """Does a granularity selector fitted on validation records beat the paper's τ rule, over
    the Gran-HBN seeds that have validation records?"""
    from . import selection as S
    from .records import as_arrays, load_records
    from .study import interval
    per_seed, missing = {}, []
    for seed in study.seeds("gran-hbn"):
        run = study.run("gran-hbn", seed)
        try:
            val = as_arrays(load_records(run.path, split="val"))
        except FileNotFoundError:
            missing.append(str(run.path))
            continue
        a = run.arrays
        curves = pd.concat([S.selector_curves(a, b, [S.fit_learned(val, b, t) for t in S.LEARNED])
                            for b in range(len(a["exits"]))], ignore_index=True)
        per_seed[seed] = S.curve_summary(curves).groupby("selector")["auc"].mean()
    if not per_seed:
        return Finding("selectors", "Learned granularity selectors", BEYOND,
                       f"Not computed: no Gran-HBN run has validation records ({', '.join(missing)}; "
                       f"`python -m hbn evaluate <run dir>` writes them).")
    auc = pd.DataFrame(per_seed).T  # seed x selector: mean AUC over branches
    rules = [c for c in auc if c not in (S.PAPER_TAU, "oracle (bound)")]
    best = auc[rules].mean().idxmax()
    m, lo, hi = interval(auc[best] - auc[S.PAPER_TAU])
    span = f"95% interval over seeds {_signed(lo)} to {_signed(hi)}"
    if np.isfinite(lo):
        against = (f"above τ by {_signed(m)} ({span})" if lo > 0 else
                   f"below τ by {_signed(m)} ({span})" if hi < 0 else
                   f"not distinguishable from τ: {_signed(m)}, {span}")
    else:
        against = f"{_signed(m)} against τ (one seed: no interval)"
    learned = []
    for name in [c for c in rules if c.startswith("learned")]:
        d = auc[name] - auc[S.PAPER_TAU]
        lm, llo, lhi = interval(d)
        ci = f", 95% interval {_signed(llo)} to {_signed(lhi)}" if np.isfinite(llo) else ""
        learned.append(f"{name} {_signed(lm)}{ci}, above τ in {int((d > 0).sum())} of {len(d)} seeds")
    means = auc.mean().sort_values(ascending=False)
    listed = "; ".join(f"{k} {v:.4f}" for k, v in means.items())
    f = Finding(
        "selectors", "Learned granularity selectors", BEYOND,
        f"Area under the accuracy–specificity curve, mean over branches and Gran-HBN seeds "
        f"{', '.join(map(str, auc.index))} (test set, per image; learned selectors fitted on "
        f"validation records): {listed}. The rule other than τ with the largest mean on test, "
        f"{best}, is {against}. Against τ, the learned selectors: {'; '.join(learned)}. "
        f"Per seed: {{numref}}`tbl-finding-selectors`; per branch, seed {auc.index[0]}: "
        f"{{numref}}`tbl-op-auc` and {{numref}}`tbl-op-learned`.")
    f.evidence = _selector_evidence(auc[list(means.index)], S.PAPER_TAU)
    return f


def _selector_evidence(auc: pd.DataFrame, tau: str) -> pd.DataFrame:
    """Per seed, each selector's AUC (mean over branches), their mean, and each selector minus
    τ: mean and 95 % interval over seeds, formatted as the finding prints them."""
    from .study import interval
    rows = [{"": f"seed {s}", **{k: f"{v:.4f}" for k, v in r.items()}} for s, r in auc.iterrows()]
    rows.append({"": "mean over seeds", **{k: f"{v:.4f}" for k, v in auc.mean().items()}})
    diffs = {k: interval(auc[k] - auc[tau]) for k in auc if k != tau}
    for i, what in enumerate(("minus τ: mean", "minus τ: 95 % low", "minus τ: 95 % high")):
        rows.append({"": what, tau: "", **{k: _signed(v[i]) for k, v in diffs.items()}})
    return pd.DataFrame(rows)


def _signed(x: float) -> str:
    """A small signed difference: 4 decimals, or 2 significant digits where those would read
    as ±0.0000 (never e-notation), with a true minus."""
    if not np.isfinite(x):
        return "n/a"
    places = 4 if x == 0 or abs(x) >= 5e-5 else min(8, 1 - int(np.floor(np.log10(abs(x)))))
    return f"{x:+.{places}f}".replace("-", "−")


def exit_cost(flops: dict, title: str) -> Finding:
    """FLOPs of Gran-HBN's exits against AlexNet's single pass (`flops`: model -> per exit)."""
    g, a = np.asarray(flops["gran-hbn"], float), float(flops["alexnet"][-1])
    ours = g[-1] / a
    theirs = AUTHORS_MFLOPS["gran-hbn"][-1] / AUTHORS_MFLOPS["alexnet"][-1]
    return Finding(
        "exit-cost", "The deepest exit costs more than AlexNet",
        AS_PAPER if abs(ours - theirs) <= 0.1 * theirs else UNLIKE_PAPER,
        f"Reaching Gran-HBN's exits 1, 2 and 3 costs {', '.join(f'{x / a:.2f}' for x in g)} × "
        f"AlexNet's FLOPs ({title} input shapes): the side exits run on the way to the last "
        f"one. The authors' counts give {theirs:.2f} × for the last exit. Measured latency "
        f"is in {{numref}}`fig-latency`; the counts in {{numref}}`tbl-models`.")


def all_findings(study: Study, flops: dict, grid, decision_batch: int, batch_sizes,
                 seed: int = 0) -> list[Finding]:
    """Every finding, the paper's claims first (the ones we do not reproduce among them)."""
    return [semantic_exit(study), operating_regions(study, grid, decision_batch, seed),
            entropy_depth(study, seed), coarse_above_fine(study, seed),
            region_vs_batch(study, batch_sizes, seed), exit_cost(flops, study.title),
            routing_levels(study, decision_batch, seed), oracle_gap(study, seed),
            selectors(study)]


def as_markdown(findings: list[Finding], numbered: bool = False) -> str:
    """The findings as a Markdown list (MyST), one paragraph each."""
    mark = (lambda i: f"{i}. ") if numbered else (lambda i: "- ")
    return "\n".join(mark(i) + f.markdown() for i, f in enumerate(findings, 1)) + "\n"


def verdicts(findings: list[Finding]) -> pd.Series:
    """How many findings agree with the paper, do not, or go beyond it."""
    return pd.Series([f.verdict for f in findings]).value_counts()
