"""The paper's claims, tested: one `Verdict` per claim and dataset, computed from the exit
records of every seed the study holds, with the effect size and a 95 % interval over seeds.

A claim *holds* when the whole interval lies on the paper's side of its criterion, *does not
hold* when the whole interval lies on the other side, and *cannot tell at this n* otherwise,
or with one seed (no interval). Criteria are stated with each claim (`Claim.criterion`); the
"matches" of the paper's comparisons is read as "at most `MATCH_MARGIN` below", the tolerance
the schedules were chosen with. `evidence(study, key)` returns the per-seed numbers a verdict
is computed from, which the Findings page shows under each claim.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import analysis as A
from . import entropies as E
from . import routing as R
from .models import MODEL_TITLES as _TITLES
from .seedstats import CANNOT_TELL, FAILS, HOLDS, decide, interval, welch
from .study import Study

MATCH_MARGIN = 0.005  # "matches": within half a point of accuracy
OVERLAP_SHARE = 0.05  # "an overlap ... at each exit": at least 5 % of images
REGION_BATCHES = (64, 512)  # the region grows as the decision batch shrinks: 512 -> 64
ENTROPY_STATISTIC = ("batch", 64)  # the paper's Fig. 5 statistic (hbn.entropies)


@dataclass(frozen=True)
class Claim:
    key: str
    title: str
    section: str
    quote: str
    criterion: str  # in words: what the interval must show for the claim to hold
    unit: str  # "points", "nats", "share" (computed as a fraction, shown in %), "τ"
    evidence: str  # the {numref} label of the figure or table of the book it concerns
    symbol: str = ""  # what the number is, where its unit does not say ("δ = ")


CLAIMS = [
    Claim("trade-off", "Coarse answers are more accurate than fine ones", "§VI-A",
          "Within the operating region, there is a trade-off between test accuracy and specificity.",
          "all-coarse minus all-fine accuracy of Gran-HBN, at the branch where it is smallest, "
          "above 0", "points", "tbl-forced"),
    Claim("early-as-late", "Early coarse answers reach late fine accuracy", "Abstract",
          "enabling earlier branches to achieve late-level classification accuracy while "
          "utilizing fewer computational resources",
          "Gran-HBN's all-coarse accuracy at branch 1 minus its all-fine accuracy at the last "
          "branch above 0", "points", "tbl-forced"),
    Claim("extremes-fine", "At δ = 1, Gran-HBN matches or beats B-AlexNet", "§VI-B, §VII",
          "Gran-HBN consistently matches or surpasses benchmark model performance at the "
          "specificity extremities",
          f"Gran-HBN all-fine minus B-AlexNet accuracy, at the branch where it is smallest, "
          f"above −{100 * MATCH_MARGIN:.1f} points", "points", "tbl-forced"),
    Claim("extremes-coarse", "At δ = 0, Gran-HBN matches or beats Sem-AlexNet", "§VI-B, §VII",
          "Gran-HBN consistently matches or surpasses benchmark model performance at the "
          "specificity extremities",
          f"Gran-HBN all-coarse minus Sem-AlexNet's coarse exits (branches 1 and 2), at the "
          f"branch where it is smallest, above −{100 * MATCH_MARGIN:.1f} points", "points",
          "tbl-forced"),
    Claim("ag-hbn-mixes", "AG-HBN chooses the granularity per image", "Abstract, §IV",
          "AG-HBN is shown to capitalize on the accuracy-specificity trade-off for individual images",
          "the share δ of images its semantic exit answers fine strictly between 1 % and 99 %",
          "share", "fig-comparison", "δ = "),
    Claim("ag-hbn-cost", "AG-HBN costs accuracy against Gran-HBN", "§VI-B",
          "AG-HBN automates this process, albeit with a noted loss in accuracy compared to the "
          "Gran-HBN model.",
          "AG-HBN minus Gran-HBN accuracy at AG-HBN's specificity (τ chosen per branch to give "
          "Gran-HBN the same δ, per image), averaged over branches, below 0", "points",
          "fig-comparison"),
    Claim("entropy-falls", "Entropies fall with depth", "Abstract, §VI-C",
          "the classification uncertainty decreases for both coarse and fine classifications "
          "as we delve deeper into the model",
          "the largest branch-to-branch change of the median fine or coarse entropy (the paper's "
          "batch-of-64 statistic) below 0", "nats", "fig-entropy"),
    Claim("entropy-overlap", "Fine and coarse entropies overlap at each exit", "Abstract, §VI-C",
          "overlaps in both fine label and coarse label classification uncertainties are "
          "identified at each exit",
          f"the share of images whose fine entropy is below the branch's median coarse entropy, "
          f"at the branch where it is smallest, above {100 * OVERLAP_SHARE:.0f} %", "share", "fig-entropy",
          "share "),
    Claim("region-batch", "Smaller decision batches widen the operating region", "§VI-A",
          "the size of the operating region increases as the batch size of the test set is reduced",
          f"region width at batch {REGION_BATCHES[0]} minus at batch {REGION_BATCHES[1]}, "
          f"averaged over branches, above 0", "τ", "tbl-region-vs-batch"),
    Claim("region-depth", "Later branches have wider operating regions", "§VI-A",
          "branch 1 has the smallest operating region, indicating reduced hierarchical "
          "classification variance",
          f"region width (batch {REGION_BATCHES[1]}) at the last branch minus at branch 1 above 0",
          "τ", "tbl-region-vs-batch"),
]
BY_KEY = {c.key: c for c in CLAIMS}
UNITS = {"points": " points", "share": " %", "nats": " nats", "τ": " in τ"}  # after a number


@dataclass
class Verdict:
    key: str
    claim: str
    section: str
    quote: str
    dataset: str
    verdict: str  # HOLDS, FAILS or CANNOT_TELL
    effect: float  # mean over seeds, in `unit`
    lo: float  # 95 % interval over seeds (NaN with one seed)
    hi: float
    unit: str
    n: str  # the seeds behind the verdict, in words
    text: str  # one MyST sentence
    evidence: str
    places: int = 3  # decimals of its numbers (`decimals`)
    label: str = ""  # the label of the table of its numbers (`evidence`) on the Findings page

    @property
    def shown(self) -> str:
        """The effect as the table prints it, with what it is and its unit."""
        return BY_KEY[self.key].symbol + fmt(self.effect, self.unit, self.places) + UNITS.get(self.unit, "")


# --- per-seed values ------------------------------------------------------------------------

def _forced(run) -> pd.DataFrame:
    return A.forced_accuracy(run.arrays).set_index("exit")


def _model_fine(run, fine_by_branch) -> pd.Series:
    """Accuracy per exit of a baseline forced to each exit, answering fine or coarse there."""
    a = run.arrays
    n = len(a["fine_true"])
    return pd.Series({int(e): A.score(a, *R.forced(n, b, fine_by_branch[b]))["accuracy"]
                      for b, e in enumerate(a["exits"])})


def _per_seed(study: Study, model: str, fn) -> dict:
    return {s: fn(study.run(model, s)) for s in study.seeds(model)}


def _trade_off(run) -> pd.Series:
    f = _forced(run)
    return f.accuracy_spec0 - f.accuracy_spec1


def _early_as_late(run) -> float:
    f = _forced(run)
    return float(f.accuracy_spec0.iloc[0] - f.accuracy_spec1.iloc[-1])


def _delta(run) -> float:
    return float(R.ag_hbn_forced(run.arrays["sem_prob_fine"], mode="sample").mean())


def _ag_minus_gran(ag, gran) -> pd.Series:
    """Per exit: AG-HBN's accuracy (semantic exit, per image) minus Gran-HBN's at the τ whose
    per-image specificity is nearest AG-HBN's."""
    a, g = ag.arrays, gran.arrays
    n = len(a["fine_true"])
    fine = R.ag_hbn_forced(a["sem_prob_fine"], mode="sample")
    out = {}
    wide = A.wide_tau_grid(g)
    for b, e in enumerate(a["exits"]):
        acc = A.score(a, *R.forced(n, b, fine))["accuracy"]
        c = A.tau_sweep(g, wide, branch=b, mode="sample")
        near = c.iloc[(c.specificity - fine.mean()).abs().argmin()]
        out[int(e)] = acc - float(near.accuracy)
    return pd.Series(out)


def _entropy_steps(run) -> float:
    s = E.entropy_summary(run.arrays, *ENTROPY_STATISTIC)
    steps = [np.diff(s[f"{g}_median"].dropna().to_numpy()) for g in ("fine", "coarse")]
    return float(np.max(np.concatenate(steps)))


def _overlap(run) -> float:
    s = E.entropy_summary(run.arrays, "image")
    return float(s["overlap"].dropna().min())


def _regions(run) -> pd.DataFrame:
    r = A.region_vs_batch_size(run.arrays, None, REGION_BATCHES)
    return r.pivot(index="exit", columns="batch_size", values="size")


def _region_batch(run) -> float:
    r = _regions(run)
    return float((r[REGION_BATCHES[0]] - r[REGION_BATCHES[1]]).mean())


def _region_depth(run) -> float:
    r = _regions(run)[REGION_BATCHES[1]]
    return float(r.iloc[-1] - r.iloc[0])


# --- verdicts ------------------------------------------------------------------------------

_RULES = {"trade-off": dict(above=0), "early-as-late": dict(above=0),
          "extremes-fine": dict(above=-MATCH_MARGIN), "extremes-coarse": dict(above=-MATCH_MARGIN),
          "ag-hbn-mixes": dict(inside=(0.01, 0.99)), "ag-hbn-cost": dict(below=0),
          "entropy-falls": dict(below=0), "entropy-overlap": dict(above=OVERLAP_SHARE),
          "region-batch": dict(above=0), "region-depth": dict(above=0)}
_ONE_MODEL = {"trade-off": ("gran-hbn", _trade_off), "early-as-late": ("gran-hbn", _early_as_late),
              "ag-hbn-mixes": ("ag-hbn", _delta), "entropy-falls": ("gran-hbn", _entropy_steps),
              "entropy-overlap": ("gran-hbn", _overlap), "region-batch": ("gran-hbn", _region_batch),
              "region-depth": ("gran-hbn", _region_depth)}
_BASELINE = {"extremes-fine": ("b-alexnet", True), "extremes-coarse": ("sem-alexnet", False)}


def _frame(per_seed: dict, model: str) -> pd.DataFrame:
    rows = {(_TITLES[model], s): (v if isinstance(v, pd.Series) else pd.Series({"value": v}))
            for s, v in per_seed.items()}
    df = pd.DataFrame(rows).T
    df.index.names = ["model", "seed"]
    return df


def models_of(key: str) -> tuple[str, ...]:
    """The models a claim's verdict reads."""
    if key in _ONE_MODEL:
        return (_ONE_MODEL[key][0],)
    return ("ag-hbn", "gran-hbn") if key == "ag-hbn-cost" else ("gran-hbn", _BASELINE[key][0])


def compute(study: Study, key: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """A claim's numbers: the per-seed values (rows (model, seed); columns exits or "value"),
    their summary (rows mean, low, high of the 95 % interval; per column: over the seeds, or the
    difference of two models' means, Welch), and the column the verdict reads (the weakest)."""
    if key in _ONE_MODEL:
        model, fn = _ONE_MODEL[key]
        per = _frame(_per_seed(study, model, fn), model)
        stats = pd.DataFrame({c: interval(per[c].astype(float)) for c in per}, index=_STATS)
    elif key == "ag-hbn-cost":
        gseeds = study.seeds("gran-hbn")
        per = _frame({s: _ag_minus_gran(study.run("ag-hbn", s),
                                        study.run("gran-hbn", s if s in gseeds else gseeds[0]))
                      for s in study.seeds("ag-hbn")}, "ag-hbn")
        per.columns = [f"branch {c}" for c in per.columns]
        per["mean over branches"] = per.mean(axis=1)
        stats = pd.DataFrame({c: interval(per[c].astype(float)) for c in per}, index=_STATS)
        return per, stats, "mean over branches"
    else:
        base, fine = _BASELINE[key]
        answers = {"gran-hbn": [fine] * 3, base: [fine] * 3 if fine else [False, False, True]}
        parts = {m: _frame(_per_seed(study, m, lambda r, a=a: _model_fine(r, a)), m)
                 for m, a in answers.items()}
        if not fine:  # Sem-AlexNet answers coarse at its side exits only
            parts = {m: p.iloc[:, :-1] for m, p in parts.items()}
        per = pd.concat(parts.values())
        stats = pd.DataFrame({c: welch(parts["gran-hbn"][c].astype(float),
                                       parts[base][c].astype(float)) for c in per}, index=_STATS)
    per.columns = [c if isinstance(c, str) else f"branch {c}" for c in per.columns]
    stats.columns = per.columns
    rule = _RULES[key]
    col = (stats.loc["mean"].idxmax() if "below" in rule else stats.loc["mean"].idxmin())
    return per, stats, col


_STATS = ["mean", "low", "high"]


def _n(study: Study, key: str) -> str:
    return ", ".join(f"{len(study.seeds(m))} seed{'s' * (len(study.seeds(m)) != 1)} of "
                     f"{_TITLES[m]}" for m in models_of(key))


def decimals(stats: pd.DataFrame, unit: str) -> int:
    """Places for a claim's numbers: 2 for points and shares (both in %); else 3, or more so that
    the largest of its mean and interval ends shows 2 significant digits (entropy steps of a few
    thousandths)."""
    if unit in ("points", "share"):
        return 2
    big = np.nanmax(np.abs(stats.to_numpy(float))) if np.isfinite(stats.to_numpy(float)).any() else 1
    return 3 if big == 0 or big >= 0.01 else min(6, 1 - int(np.floor(np.log10(big))))


def fmt(x: float, unit: str, places: int = 3) -> str:
    """One number of the claims, signed with a true minus: accuracy differences in points,
    shares in % (unsigned), others (nats, τ widths) as they are."""
    if not np.isfinite(x):
        return "n/a"
    v = 100 * x if unit in ("points", "share") else x
    text = f"{v:.{places}f}" if unit == "share" else f"{v:+.{places}f}"
    return text.replace("-", "−")


def _span(lo: float, hi: float, unit: str, places: int) -> str:
    return f"{fmt(lo, unit, places)} to {fmt(hi, unit, places)}"


def evidence_label(key: str, study: Study, own: bool = True) -> str:
    """`tbl-claim-<key>` for the page's own study, `tbl-claim-<key>-<dataset>` for another's."""
    return f"tbl-claim-{key}" + ("" if own else f"-{study.dataset}")


def verdict(study: Study, key: str, own: bool = True) -> Verdict:
    claim = BY_KEY[key]
    _, stats, col = compute(study, key)
    m, lo, hi = (float(stats.loc[k, col]) for k in _STATS)
    v = decide(lo, hi, **_RULES[key])
    places = decimals(stats, claim.unit)
    u = UNITS.get(claim.unit, "")
    where = f" at {col}" if col.startswith("branch") else ""
    ci = (f"95 % interval {_span(lo, hi, claim.unit, places)}" if np.isfinite(lo)
          else "one seed: no interval")
    text = f"{claim.symbol}{fmt(m, claim.unit, places)}{u}{where} ({ci}; {_n(study, key)}): **{v}**"
    return Verdict(key, claim.title, claim.section, claim.quote, study.dataset, v, m, lo, hi,
                   claim.unit, _n(study, key), text, claim.evidence, places,
                   evidence_label(key, study, own))


def assess(study: Study, own: bool = True) -> list[Verdict]:
    """A verdict for every claim whose models the study holds, in the order of `CLAIMS`
    (`own`: the study of the page, whose evidence tables carry the plain labels)."""
    return [verdict(study, c.key, own) for c in CLAIMS
            if all(study.seeds(m) for m in models_of(c.key))]


def evidence(study: Study, key: str) -> pd.DataFrame:
    """The numbers behind a verdict, formatted as the verdict prints them: one row per seed,
    then the mean and the 95 % interval (of a difference of two models' means for the
    comparisons with a baseline, whose rows are the models' accuracies in %)."""
    per, stats, _ = compute(study, key)
    unit = BY_KEY[key].unit
    places = decimals(stats, unit)
    raw = key in _BASELINE  # accuracies of each model, then the difference of their means
    shown = per.map(lambda x: f"{100 * x:.2f}" if raw else fmt(x, unit, places))
    label = {"mean": "Gran-HBN minus " + _TITLES[_BASELINE[key][0]] if raw else "mean",
             "low": "95 % interval, low", "high": "95 % interval, high"}
    summary = stats.map(lambda x: fmt(x, unit, places))
    summary.index = pd.MultiIndex.from_tuples([(label[k], "") for k in _STATS])
    return pd.concat([shown.astype(str), summary])


def table(verdicts: dict) -> pd.DataFrame:
    """The claims table: one row per claim (its title, section and quote), one column per
    dataset title (`verdicts`: title -> list of Verdict, or a string saying why a dataset has
    none yet). Each verdict links the table of its numbers (`evidence`, `tbl-claim-<key>`)."""
    rows = []
    for c in CLAIMS:
        row = {"claim": f"**{c.title}** ({c.section}): “{c.quote}”"}
        for title, vs in verdicts.items():
            if isinstance(vs, str):
                row[title] = vs
                continue
            v = next((v for v in vs if v.key == c.key), None)
            row[title] = (f"{v.text} ({{numref}}`{v.label}`)" if v
                          else "not computed: the study lacks the models")
        rows.append(row)
    return pd.DataFrame(rows)


def counts(verdicts: list[Verdict]) -> dict:
    return {k: sum(v.verdict == k for v in verdicts) for k in (HOLDS, FAILS, CANNOT_TELL)}


def summary_markdown(verdicts: list[Verdict], title: str) -> str:
    """One paragraph: how many claims hold on `title`, which do not, which cannot be told."""
    n = counts(verdicts)
    names = {k: [f"{v.claim[0].lower() + v.claim[1:] if v.claim[1:2].islower() else v.claim} "
                 f"({v.shown})" for v in verdicts if v.verdict == k] for k in n}
    parts = [f"Of the paper's {len(verdicts)} claims tested on {title}, {n[HOLDS]} "
             f"hold{'s' * (n[HOLDS] == 1)}"
             + (f": {'; '.join(names[HOLDS])}" if names[HOLDS] else "") + "."]
    if n[FAILS]:
        parts.append(f"{n[FAILS]} do{'es' * (n[FAILS] == 1)} not: {'; '.join(names[FAILS])}.")
    if n[CANNOT_TELL]:
        parts.append(f"For {n[CANNOT_TELL]} the seeds trained cannot tell: "
                     f"{'; '.join(names[CANNOT_TELL])}.")
    return " ".join(parts)


def other_study(out_dir: str, dataset: str, profile: str, pairs) -> Study | str:
    """Another dataset's study (`pairs`: its (model, seed) runs) when every one of its runs has
    finished, else a sentence saying how many have (its column of the claims table)."""
    from . import runs
    from .config import make_config
    from .study import load_study
    cfgs = [make_config(profile, model=m, seed=s, dataset=dataset, out_dir=out_dir) for m, s in pairs]
    done = sum(runs.finished_folder(runs.run_dir(c)) for c in cfgs)
    if done < len(cfgs):
        return (f"not yet: {done} of the {len(cfgs)} runs of its {profile} study "
                f"{'has' if done == 1 else 'have'} finished "
                f"(`python -m hbn status --profile {profile} --dataset {dataset}`)")
    models = sorted({m for m, _ in pairs})
    every = set.intersection(*({s for m2, s in pairs if m2 == m} for m in models))
    study = load_study(out_dir, dataset, profile, models, sorted({s for m, s in pairs if m == "gran-hbn"}),
                       model_seeds=sorted(every))
    return study
