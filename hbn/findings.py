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
from .study import AUTHORS_FIG3, AUTHORS_FORCED, AUTHORS_REGIONS, Study, authors_forced_shown

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
    cols = ["branch 1", "branch 2", "branch 3"]
    auth = AUTHORS_FORCED[AUTHORS_FORCED.model == "Gran-HBN"][cols]
    shown = authors_forced_shown().loc[auth.index, cols]  # as the authors' table prints them
    verdict = "at every branch" if not worse else f"except at branch {', '.join(map(str, worse))}"
    return Finding(
        "coarse-above-fine", "Coarse answers are more accurate than fine ones",
        AS_PAPER if not worse else UNLIKE_PAPER,
        f"Forced to exit at a branch, Gran-HBN is right {_pct(f.accuracy_spec0)} of the time "
        f"answering coarse and {_pct(f.accuracy_spec1)} answering fine: coarse is ahead "
        f"{verdict}. The authors found the same order on CIFAR-100 "
        f"({_shown_span(auth.iloc[0], shown.iloc[0])} % against "
        f"{_shown_span(auth.iloc[1], shown.iloc[1])} %). See {{numref}}`tbl-forced` and, for the "
        f"authors', {{numref}}`tbl-forced-authors`.")


def _shown_span(values: pd.Series, shown: pd.Series) -> str:
    """The lowest–highest of `values`, each written as `shown` writes it (e.g. "≈51.7–≈53.8")."""
    lo, hi = shown[values.idxmin()], shown[values.idxmax()]
    return lo if lo == hi else f"{lo}–{hi}"


def _mean_ci(values, fmt: str = ".2f") -> str:
    """'m (95 % interval lo–hi)' over seeds, or 'm (one seed)'."""
    from .seedstats import interval
    m, lo, hi = interval(values)
    return (f"{m:{fmt}} (95 % interval {lo:{fmt}}–{hi:{fmt}})" if np.isfinite(lo)
            else f"{m:{fmt}} (one seed)")


def authors_scale_free() -> pd.DataFrame:
    """The authors' Fig. 3 regions per branch (`AUTHORS_FIG3`) in units of their own τ at
    δ = 0.5 (`hbn.analysis.scale_free_region`): the only scale their published numbers give."""
    return pd.DataFrame([{"branch": b, **A.scale_free_region(g)}
                         for b, g in AUTHORS_FIG3.groupby("branch")])


def operating_regions(study: Study, grid, decision_batch: int, seed: int = 0) -> Finding:
    """Batch-mode operating regions of τ (Table II) against the authors': where they lie (the
    entropies' scale) and, scale removed (width / τ at δ = 0.5), how wide (the verdict)."""
    r = A.operating_regions(study.run("gran-hbn", seed).arrays, grid, modes=("batch",),
                            batch_sizes=(decision_batch,))
    step = float(np.min(np.diff(grid))) if len(grid) > 1 else float("nan")
    theirs = f"the authors report {', '.join(AUTHORS_REGIONS.start.map('{:.2f}'.format) + '–' + AUTHORS_REGIONS.end.map('{:.2f}'.format))}"
    if not len(r):
        return Finding("regions", "Operating regions", UNLIKE_PAPER,
                       "No branch of Gran-HBN has both a fine and a coarse head. "
                       "See {numref}`fig-tau-sweep`.")
    seeds = study.seeds("gran-hbn")
    ours = pd.concat([A.scale_free_regions(a, A.wide_tau_grid(a), "batch", decision_batch)
                      .assign(seed=s) for s in seeds for a in [study.run("gran-hbn", s).arrays]])
    auth = authors_scale_free().set_index("branch")
    widths, fits = [], []
    for e, g in ours.groupby("exit"):
        lo_a, hi_a = auth.loc[e, "size_low_scaled"], auth.loc[e, "size_scaled"]
        m = g["size_per_half"].mean()
        fits.append("within" if lo_a <= m <= hi_a else "wider" if m > hi_a else "narrower")
        widths.append(f"{_mean_ci(g['size_per_half'])} at branch {e} (theirs {lo_a:.2f}–{hi_a:.2f})")
    same = all(f == "within" for f in fits)
    shape = ("within the authors' range at every branch" if same else
             f"{'wider' if fits.count('wider') >= fits.count('narrower') else 'narrower'} than "
             f"the authors' at {sum(f != 'within' for f in fits)} of {len(fits)} branches")
    narrow = r.exit[r.narrower_than_step].tolist()
    where = ", ".join(r.region)
    return Finding(
        "regions", "Operating regions of τ", AS_PAPER if same else UNLIKE_PAPER,
        f"With one decision per batch of {decision_batch} images (the authors' protocol), on the "
        f"page's τ grid (step {step:.3g}) Gran-HBN seed {seed}'s regions are {where} at "
        f"branches {', '.join(map(str, r.exit))} (each limit to within one grid step"
        + (f"; narrower than the grid step at branch {', '.join(map(str, narrow))}" if narrow else "")
        + f"); {theirs} on CIFAR-100. The level is a matter of scale: δ = 0.5 is reached at "
        f"τ ≈ {_span(ours.tau_half, '.3f')} here (Gran-HBN seeds {', '.join(map(str, seeds))}), "
        f"at {_span(auth.tau_half, '.3f')} in the authors' Fig. 3; our median per-image "
        f"|e_f − e_c| is {_span(ours.median_gap, '.3f')} nats, and δ = 0.5 lies at "
        f"{_span(ours.tau_half / ours.median_gap, '.1f')} times it. With the scale removed "
        f"(width in units of that τ at δ = 0.5, which the authors' data also give; ours on a "
        f"grid of 1,001 τ, n = {len(seeds)} seeds; theirs known to within two grid steps), "
        f"the regions are {'; '.join(widths)}: {shape}. "
        f"See {{numref}}`fig-tau-scale-free` and {{numref}}`tbl-table2`.")


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
        ranks = (f" Against the eq. (8) target on test, which says fine for {100 * target.mean():.1f} % of the "
                 f"images, its P(fine) has ROC AUC {auc:.3f} (95% interval {lo:.3f}–{hi:.3f}; 0.5: no "
                 f"better than always giving the majority answer): {learned}.")
    else:
        ranks = f" The eq. (8) target says {'fine' if target.all() else 'coarse'} for every test image."
    near = abs(delta - AUTHORS_AG_HBN_SPECIFICITY) <= 0.1
    return Finding(
        "semantic-exit", "AG-HBN's semantic exit", AS_PAPER if near else UNLIKE_PAPER,
        f"The semantic exit answers fine for δ = {100 * delta:.1f} % of the test images: "
        f"{collapsed}. The authors' AG-HBN runs at δ ≈ {100 * AUTHORS_AG_HBN_SPECIFICITY:.0f} %.{ranks} "
        f"See {{numref}}`fig-comparison`.")


def ag_hbn_attributed(t: pd.DataFrame, seed: int) -> Finding:
    """Which post-training factor moves AG-HBN's δ: the ablation page's table (`hbn.ablation.
    table`: the run as trained first, one factor changed per row, the validation-chosen cut last)."""
    from .ablation import CUT
    acc = "accuracy, mean over exits"
    base, cut = t.iloc[0], t.iloc[-1]
    factors = "; ".join(f"{r.variant}, δ = {100 * r['δ, test']:.2f} %" for _, r in t.iloc[1:-1].iterrows())
    moved = max(abs(r["δ, test"] - base["δ, test"]) for _, r in t.iloc[1:-1].iterrows()) if len(t) > 2 else 0.0
    by_cut = abs(cut["δ, test"] - base["δ, test"])
    verdict = ("the cut moves δ, the post-training settings barely do" if by_cut > 2 * moved
               else "a post-training setting moves δ as much as the cut")
    return Finding(
        "ag-hbn-attributed", "Why AG-HBN answers fine", BEYOND,
        f"As trained (AG-HBN seed {seed}), the semantic exit answers fine for δ = "
        f"{100 * base['δ, test']:.2f} % of the test images. One post-training factor at a time, from the "
        f"same joint-trained checkpoint: {factors}; the {CUT} gives δ = {100 * cut['δ, test']:.2f} % "
        f"(cut {cut['cut on P(fine)']:.3f} instead of {base['cut on P(fine)']:.3f}) and a mean accuracy over the exits of "
        f"{100 * cut[acc]:.2f} % against {100 * base[acc]:.2f} %: {verdict}. One seed, one run per "
        f"variant. See {{numref}}`tbl-ablation`.")


def _change(r) -> str:
    """'fine +0.0015 nats (95 % interval −0.0004 to +0.0033)' for a `trend_over_seeds` row."""
    def signed(x):  # 4 decimals, as the trends table shows them, with a true minus
        return f"{x:+.4f}".replace("-", "−")
    ci = f" (95 % interval {signed(r.low)} to {signed(r.high)})" if np.isfinite(r.low) else " (one seed)"
    return f"{r.granularity} {signed(r.mean_change)} nats{ci}"


def _step_text(step: str, tb: pd.DataFrame, ti: pd.DataFrame) -> str:
    """One step between branches in words, under both statistics."""
    b, i = tb[tb.step == step], ti[ti.step == step]
    words = set(b.trend) | set(i.trend)
    head = f"from branch {step.replace(' → ', ' to ')}"
    if len(words) == 1:
        return (f"{head} it {b.trend.iloc[0]} under both statistics (batch means: "
                + ", ".join(_change(r) for r in b.itertuples()) + ")")
    said = lambda d: "; ".join(f"{r.granularity} {r.trend}, {_change(r).split(' ', 1)[1]}"  # noqa: E731
                               for r in d.itertuples())
    flips = set(zip(b.granularity, b.trend)) != set(zip(i.granularity, i.trend))
    return (f"{head}: in batch means {said(b)}; per image {said(i)}"
            + (" — at this step the trend depends on the statistic" if flips else ""))


def entropy_depth(study: Study, seed: int = 0, batch_size: int = 64) -> Finding:
    """Do the median fine and coarse entropies fall with depth (paper Fig. 5)? Change of the
    median from branch to branch over the Gran-HBN seeds (95 % intervals), under the paper's
    statistic (batch-of-`batch_size` means: the verdict) and per image (ours); a step whose
    trend differs between the two is said so. `seed` is kept for the pages' calls: every
    Gran-HBN seed of the study is used."""
    seeds = study.seeds("gran-hbn")
    runs = [study.run("gran-hbn", s).arrays for s in seeds]
    tb, ti = (E.trend_over_seeds(runs, per, batch_size) for per in ("batch", "image"))
    if not len(tb):
        return Finding("entropy-depth", "Entropy against depth", UNLIKE_PAPER,
                       "No granularity has a head at two branches. See {numref}`fig-entropy`.")
    falls = bool(tb[tb.neighbours].trend.str.startswith("falls").all())
    n = (f"n = {len(seeds)} Gran-HBN seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))}), "
         f"each {len(runs[0]['fine_true']):,} test images or {int(tb.n_units.iloc[0]):,} batches "
         f"of {batch_size}")
    steps = list(dict.fromkeys(tb.step[tb.neighbours]))
    overall = tb[~tb.neighbours]
    return Finding(
        "entropy-depth", "Entropy against depth", AS_PAPER if falls else UNLIKE_PAPER,
        f"Change of the median entropy between branches, mean over seeds ({n}), in the paper's "
        f"statistic (the median of the batch-of-{batch_size} means) and per image (ours): "
        + "; ".join(_step_text(s, tb, ti) for s in steps) + "."
        + (" From the first branch to the last, in batch means: "
           + ", ".join(f"{_change(r)} ({r.trend})" for r in overall.itertuples()) + "."
           if len(overall) else "")
        + " The paper reads entropies that fall with depth off its Fig. 5"
        + ("; here they fall at every step." if falls else "; here they do not fall at every step.")
        + " See {numref}`tbl-entropy-trends` and {numref}`fig-entropy`.")


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
        f"{_pct([x[2] for x in gaps])}. The largest gap, {100 * (o - g):.2f} points at branch {e}, "
        f"bounds what a better fine/coarse decision could gain. See {{numref}}`tbl-oracle-gap`.")


def selectors(study: Study) -> Finding:
    """Does a granularity selector fitted on validation records beat the paper's τ rule, over
    the Gran-HBN seeds that have validation records?"""
    from . import selection as S
    from .seedstats import interval
    vals, missing = study.validation("gran-hbn")
    missing = [str(p) for p in missing]
    per_seed = {}
    for seed, val in vals.items():
        a = study.run("gran-hbn", seed).arrays
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
    span = f"95% interval over seeds {_points(lo)} to {_points(hi)} points"
    if np.isfinite(lo):
        against = (f"above τ by {_points(m)} points ({span})" if lo > 0 else
                   f"below τ by {_points(m)} points ({span})" if hi < 0 else
                   f"not distinguishable from τ: {_points(m)} points, {span}")
    else:
        against = f"{_points(m)} points against τ (one seed: no interval)"
    learned = []
    for name in [c for c in rules if c.startswith("learned")]:
        d = auc[name] - auc[S.PAPER_TAU]
        lm, llo, lhi = interval(d)
        ci = f", 95% interval {_points(llo)} to {_points(lhi)}" if np.isfinite(llo) else ""
        learned.append(f"{name} {_points(lm)} points{ci}, above τ in {int((d > 0).sum())} of {len(d)} seeds")
    means = auc.mean().sort_values(ascending=False)
    listed = "; ".join(f"{k} {100 * v:.2f}" for k, v in means.items())
    f = Finding(
        "selectors", "Learned granularity selectors", BEYOND,
        f"Area under the accuracy–specificity curve (in %), mean over branches and Gran-HBN seeds "
        f"{', '.join(map(str, auc.index))} (test set, per image; learned selectors fitted on "
        f"validation records): {listed}. The rule other than τ with the largest mean on test, "
        f"{best}, is {against}. Against τ, the learned selectors: {'; '.join(learned)}. "
        f"Per seed: {{numref}}`tbl-finding-selectors`; per branch, seed {auc.index[0]}: "
        f"{{numref}}`tbl-op-auc` and {{numref}}`tbl-op-learned`.")
    f.evidence = _selector_evidence(auc[list(means.index)], S.PAPER_TAU)
    return f


def calibrated_targets(held: pd.DataFrame, confidence: float) -> Finding:
    """Does an accuracy target certified on calibration records hold on held-out test images?
    `held`: hbn.targets.held_counts of the operating-point page's choices (tbl-op-held)."""
    title = "Accuracy targets certified off-test"
    if not len(held):
        return Finding("calibrated-targets", title, BEYOND, "Not computed: no Gran-HBN run to calibrate on.")

    def said(src):
        h = held[held["calibrated on"] == src]
        cert, ok = int(h.certified.sum()), int(h.held.sum())
        per = ", ".join(f"{int(r.held)} of {int(r.certified)} at {100 * r.target:.2f} %"
                        for r in h.itertuples())
        worst = h["worst margin (points)"].min()
        tail = (f"; worst margin {worst:+.2f} points".replace("-", "−")  # as the table prints it
                if np.isfinite(worst) else "")
        return cert, ok, f"the target held in {ok} of the {cert} certified choices ({per}{tail})"

    parts = {src: said(src) for src in held["calibrated on"].unique()}
    text = [f"A point is certified when its {confidence:.0%} lower confidence bound on the "
            f"calibration records reaches the target; each is checked on a held-out half of the "
            f"test set."]
    if "validation" in parts:
        text.append(f"Calibrated on the validation split (cut from the training file), "
                    f"{parts['validation'][2]}.")
    if "test half" in parts:
        text.append(f"Calibrated on a random half of the test set, {parts['test half'][2]}.")
    if "validation" in parts and "test half" in parts:
        (vc, vo, _), (tc, to, _) = parts["validation"], parts["test half"]
        if vc and tc and vo / vc < to / tc:
            text.append("The guarantee assumes calibration images drawn like the test images; "
                        "shortfalls like these say this validation split is not, so a target "
                        "chosen on it is no guarantee on this test set.")
    text.append("See {numref}`tbl-op-held`.")
    return Finding("calibrated-targets", title, BEYOND, " ".join(text))


def _selector_evidence(auc: pd.DataFrame, tau: str) -> pd.DataFrame:
    """Per seed, each selector's AUC (mean over branches), their mean, and each selector minus
    τ: mean and 95 % interval over seeds, formatted as the finding prints them."""
    from .seedstats import interval
    rows = [{"": f"seed {s} (%)", **{k: f"{100 * v:.2f}" for k, v in r.items()}}
            for s, r in auc.iterrows()]
    rows.append({"": "mean over seeds (%)", **{k: f"{100 * v:.2f}" for k, v in auc.mean().items()}})
    diffs = {k: interval(auc[k] - auc[tau]) for k in auc if k != tau}
    for i, what in enumerate(("minus τ: mean (points)", "minus τ: 95 % low (points)",
                              "minus τ: 95 % high (points)")):
        rows.append({"": what, tau: "", **{k: _points(v[i]) for k, v in diffs.items()}})
    return pd.DataFrame(rows)


def _points(x: float) -> str:
    """A difference of two accuracies (proportions) in points: 2 decimals, or 2 significant
    digits where those would read as ±0.00 (never e-notation), with a true minus."""
    if not np.isfinite(x):
        return "n/a"
    v = 100 * x
    places = 2 if v == 0 or abs(v) >= 1 else min(8, max(2, 1 - int(np.floor(np.log10(abs(v))))))
    return f"{v:+.{places}f}".replace("-", "−")


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
