"""Write the source notebooks in notebooks/ (run: .venv/bin/python scripts/make_notebooks.py).

The notebooks are thin: a papermill `parameters` cell, calls into `hbn`, and display. Cell
kinds (see `write`):
- "md": markdown (prose first; numbers in prose are pasted with myst-nb glue, never typed);
- "params": the papermill parameters cell. `write` tags it remove-cell, ends it by recording
  the declared names in `_declared` and adds, right after it, a remove-cell check that rejects
  unknown parameters (`hbn.notebook.check_parameters`): papermill injects its cell between;
- "code": analysis, tagged hide-input (a reader can unfold it);
- "show": display only (remove-input); "hidden": computes glued values (remove-input).
Cells starting `# NBVAL_CHECK_OUTPUT` print rounded, stable facts that nbval compares; they are
tagged remove-cell (nbval still runs them). Every page with analysis parameters ends with a
table of the parameters it ran with. Comments in parameter cells hold no "=" and no quotes:
papermill's parser skips such lines.
"""
import dataclasses
import inspect
import json
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hbn.config import MODELS, PROFILES, RunConfig  # noqa: E402

OUT = ROOT / "notebooks"
TAGS = {"code": ["hide-input"], "show": ["remove-input"], "hidden": ["remove-input"]}


def _comment(text: str) -> str:
    """A parameter comment papermill can parse: no '=', no quotes, no '#'."""
    text = text.replace('""', "empty").replace(" = ", " means ")
    return re.sub(r"[=\"'#]", "", text).strip()


def params_source(spec) -> str:
    """A parameters cell from (name, Python literal, comment) triples."""
    return "\n".join(f"{name} = {value}" + (f"  # {_comment(c)}" if c else "")
                     for name, value, c in spec)


# --- parameters ----------------------------------------------------------------------------------

def run_config_params() -> str:
    """Every RunConfig field: model, dataset, profile and seed concrete, the rest None (the
    profile's value, else the RunConfig default), commented from hbn/config.py."""
    src = inspect.getsource(RunConfig)
    notes = dict(re.findall(r"^\s+(\w+): [^#\n]*#\s*(.*)$", src, flags=re.M))
    fixed = {"model": '"gran-hbn"', "dataset": '"synthetic"', "profile": '"smoke"', "seed": "0"}
    choices = {"model": " | ".join(MODELS), "dataset": "cifar100 | fashion-mnist | synthetic",
               "profile": " | ".join(PROFILES)}
    spec = []
    for f in dataclasses.fields(RunConfig):
        if f.name in fixed:
            spec.append((f.name, fixed[f.name], choices.get(f.name, notes.get(f.name, ""))))
            continue
        default = ", ".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        default = "empty" if default == "" else default
        note = notes.get(f.name, "")
        if f.default is not None:  # (a None default's own note says what None means)
            note = (note + "; " if note else "") + f"None: profile value, else {default}"
        spec.append((f.name, "None", note))
    return params_source(spec)


BASE = [
    ("dataset", '"synthetic"', "cifar100 | fashion-mnist | synthetic"),
    ("profile", '"smoke"', " | ".join(PROFILES)),
    ("out_dir", '"runs"', "where the run folders live"),
    ("data_dir", '""', "empty: HBN_DATA or ./data"),
    ("models", json.dumps(list(MODELS)), "the models of the study, seed 0 each"),
    ("seeds", "[0, 1]", "Gran-HBN seeds; single-run analyses use the first"),
    ("overrides", "{}", "RunConfig fields selecting a variant of the profile, as in hbn book --set"),
]
EXTRA = {
    "decision_batch": ("512", "images per batch-mean decision, the authors protocol"),
    "batch_sizes": ("[1, 8, 64, 512]", "decision batches of the region vs batch size table"),
    "tau_grid": ("None", "tau grid. None: the paper grid, 0 to 1 step 0.02. Or start:stop:step, or a list"),
    "wide_points": ("1001", "points of the wide tau grid spanning every e_f - e_c"),
    "thresholds": ("None", "entropy thresholds Th of dynamic exits. None: 10 entropy quantiles, 5 to 95 percent"),
    "dynamic_taus": ("41", "tau values per threshold for dynamic exits"),
    "latency_repeats": ("100", "timed passes per exit and model"),
    "targets": ("[0.9, 0.95, 0.98]", "accuracy targets, share of right answers, certified on validation"),
    "confidence": ("0.95", "probability that a certified target holds on the test distribution"),
    "flops_budgets": ("[0.3, 0.5, 0.7]", "mean FLOPs budgets as shares of the deepest exit FLOPs"),
    "calibrate_on": ('["validation", "test half"]', "where targets and budgets are chosen: validation "
                     "and/or test half (a random half of the test set, reported on the other half)"),
    "fig5_batch": ("64", "test images per batch of the paper Fig. 5 statistic, the authors 64"),
}


def analysis_params(*extra: str) -> str:
    return params_source(BASE + [(k, *EXTRA[k]) for k in extra])


ANALYSIS_PARAMS = analysis_params()  # the study pages' common parameters

LOAD = '''import time
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from hbn import analysis as A, findings as F, plots, routing as R
from hbn.notebook import glue, glue_figure, glue_parameters, parse_grid, provenance
from hbn.study import figure_dir, load_study
from hbn.tables import table

study = load_study(out_dir, dataset, profile, models, seeds, overrides=overrides)
caption = study.caption()
figures = figure_dir(study)
glue_parameters(params)
glue("caption", Markdown(caption))
display(Markdown(f"**Data: {caption}.**"), provenance())'''


def figure(label: str, caption: str, key: str | None = None):
    """A numbered figure labelled `label`: the figure glued as `key` (default: `label`)."""
    return ("md", f"```{{glue:figure}} {key or label}\n:name: {label}\n\n{caption}\n```")


def what_this_shows(code: str):
    """Cells ending a results page: `code` sets `shows` (hbn.findings.Finding list)."""
    return [("hidden", code + '\nglue("shows", Markdown(F.as_markdown(shows)))'),
            ("md", "## What this shows\n\n```{glue:md} shows\n:format: myst\n```")]


def write(name, cells, parameters_table: bool = True):
    """Write notebooks/<name>; see the module docstring for the cell kinds."""
    nb = new_notebook()
    page = Path(name).stem
    has_params = False
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(new_markdown_cell(src))
            continue
        if kind == "params":
            has_params = True
            # Not a papermill parameter (its parser skips this form); check_parameters reads it.
            declare = "\nglobals()[\"_declared\"] = set(globals())  # the names declared above"
            nb.cells.append(new_code_cell(src + declare,
                                          metadata={"tags": ["parameters", "remove-cell"]}))
            nb.cells.append(new_code_cell(
                "from hbn.notebook import check_parameters\n"
                "params = check_parameters(globals(), _declared)  # unknown names are errors\n"
                f'_page = "{page}"', metadata={"tags": ["remove-cell"]}))
            continue
        tags = ["remove-cell"] if src.startswith("# NBVAL_CHECK_OUTPUT") else TAGS[kind]
        nb.cells.append(new_code_cell(src, metadata={"tags": list(tags)}))
    if has_params and parameters_table:
        nb.cells.append(new_markdown_cell(
            "---\n**About this page.** It was executed with the parameters below; the README "
            "says how to re-execute it with others."))
        nb.cells.append(new_code_cell("from hbn.notebook import parameters_table\n"
                                      "parameters_table(params, _page)",
                                      metadata={"tags": ["remove-input"]}))
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing by itself
        cell.id = f"{page.replace('_', '-')}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, OUT / name)


# --- the book's first page ------------------------------------------------------------------------

write("overview.ipynb", [
    ("md", "# Class-granular early-exit networks, reproduced\n\n"
           "An early-exit network attaches classifiers to the middle of a deep network, so that an "
           "easy image can leave early and save computation {cite:p}`teerapittayanon2016branchynet`. "
           "Sanati et al. {cite:p}`sanati_granular` add a second choice: at each exit the network "
           "may answer with the *fine* class (\"sneaker\") or only with its *coarse* superclass "
           "(\"shoes\"), which is easier to get right. Their **Gran-HBN** trades the two with one "
           "knob, the fine tolerance τ; their **AG-HBN** learns the choice with a small *semantic "
           "exit*. This book re-implements both, with the baselines AlexNet, B-AlexNet and "
           "Sem-AlexNet, and re-runs the paper's analyses from stored test-set outputs."),
    ("params", analysis_params("decision_batch")),
    ("show", LOAD),
    ("show", '''if dataset != "cifar100":
    display(Markdown(f"""<div style="border:3px solid #c00;padding:0.6em;font-size:1.1em">
<b>DATASET: {study.title.upper()}, NOT THE PAPER'S CIFAR-100.</b> CIFAR-100 could not be obtained on the
machine that built this book, so every number and figure here is computed on {study.title}. The authors'
CIFAR-100 numbers are shown beside ours for orientation only: the datasets differ.</div>"""))'''),
    ("md", "## Terms\n\n"
           "- A **branch** (or **exit**) is a classifier attached after one of the network's three "
           "stages; branch 3 is the end of the network. A *forced* exit sends every image out at "
           "one branch.\n"
           "- A **fine** answer names the class, a **coarse** answer its superclass. e_f and e_c are "
           "the entropies (uncertainties, in nats) of the fine and coarse heads at an exit.\n"
           "- The **fine tolerance τ** sets how readily Gran-HBN answers fine: fine when "
           "e_f − τ < e_c (Algorithm 1). Larger τ, more fine answers.\n"
           "- The **specificity δ** (eq. 13) is the share of fine answers: 0 = all coarse, 1 = all "
           "fine. The **operating region** is the range of τ over which δ moves between 0 and 1.\n"
           "- The authors decided once per **batch** of {glue:text}`p_decision_batch` test images "
           "from mean entropies; we also decide **per image**.\n\n"
           "The [methods](methods.ipynb) page defines these with the paper's equations."),
    ("md", "## How to read this book\n\n"
           "- [Findings](findings.ipynb): the conclusions, each linked to its evidence, the "
           "negative ones included.\n"
           "- The paper's results: [Fig. 3 and Table II](03-tau-sweep.ipynb) (the fine tolerance "
           "τ), [Fig. 4 and Table I](04-comparison.ipynb) (the five models compared) and "
           "[Fig. 5](05-entropy.ipynb) (entropies per branch).\n"
           "- [Beyond the paper](06-beyond-the-paper.ipynb): per-image routing, the oracle gap, "
           "dynamic exits, several seeds and measured latency; [choosing the operating "
           "point](07-operating-point.ipynb) from calibration data, with a guarantee checked on "
           "held-out test images.\n"
           "- [Methods](methods.ipynb): the models, the data and its class hierarchy, the exit "
           "rules, and the decisions we took where the paper is silent.\n"
           "- Appendix: the [evaluation](02-evaluate.ipynb) (test accuracy of every exit) and one "
           "page per training run, the [design notes](../../docs/design.md) and the "
           "[references](../../docs/references.md)."),
    ("hidden", '''from pathlib import Path
more = []
if Path("schedule.ipynb").exists():  # executed before this page when the profile has one
    more.append("- {doc}`schedule`: the validation curves that chose this profile's training "
                "length, beside the paper's optimiser on the same data.")
if profile == "standard":
    more.append("- A second, shortened book (the `quick` profile: 4 epochs on 12,000 images) is "
                "built with `make book PROFILE=quick`; its numbers never enter this one.")
elif profile == "quick":
    more.append("- This is the shortened book. The published one, trained to the `standard` "
                "profile, is built with `make book`; their numbers never mix.")
glue("reading_more", Markdown("\\n".join(more) or "&nbsp;"))'''),
    ("md", "```{glue:md} reading_more\n:format: myst\n```\n\n"
           "Code is folded away: click *Show code cell source* to see how a table or figure was made."),
    ("md", "## The runs behind this book"),
    ("code", '''from hbn.tables import key_value
g = study.run("gran-hbn", seeds[0])
cfg, meta, ag = g.config, g.meta, study.run("ag-hbn").config
revisions = sorted({r.meta.get("git", "unknown") for r in study.runs.values()})
facts = {"dataset": study.title,
         "profile": profile + (" (shortened: not the paper's protocol)" if cfg.shortened else ""),
         "departures from the paper's protocol": "; ".join(cfg.departures()) or "none",
         "epochs": f"{cfg.epochs} (AG-HBN {ag.epochs - ag.post_epochs} joint + {ag.post_epochs} post-training)",
         "training images": meta.get("train_images"), "test images": len(g.arrays["fine_true"]),
         "Gran-HBN seeds": ", ".join(map(str, study.seeds("gran-hbn"))),
         "trained on": f"{meta.get('device')} ({meta.get('threads')} threads, "
                       f"{meta.get('precision', 'precision not recorded')}), torch {meta.get('torch')}",
         "runs trained at revision": ", ".join(revisions)}
key_value(facts, f"The study's runs — {caption}", "tbl-facts", key="fact")'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
print("dataset:", study.title, "| profile:", profile, "| runs:", len(study.runs))'''),
])

# --- Findings ------------------------------------------------------------------------------------

write("findings.ipynb", [
    ("md", "# Findings\n\n"
           "What this reproduction shows, the paper's claims first. Every number below is computed "
           "from the stored test-set outputs when this page is executed, and each finding links the "
           "figure or table it rests on. *As in the paper* and *unlike the paper* compare the shape "
           "of our results with the authors' CIFAR-100 results; *beyond the paper* marks analyses "
           "the paper did not make."),
    ("params", analysis_params("decision_batch", "batch_sizes", "tau_grid")),
    ("show", LOAD),
    ("hidden", '''from hbn.notebook import model_flops
flops = model_flops(dataset, ["alexnet", "gran-hbn"], study.run("gran-hbn", seeds[0]).config.width)
found = F.all_findings(study, flops, parse_grid(tau_grid, A.paper_tau_grid()), decision_batch,
                       batch_sizes, seed=seeds[0])
count = pd.Series([f.verdict for f in found]).value_counts()
glue("findings", Markdown(F.as_markdown(found, numbered=True)))
glue("summary", Markdown(
    f"Of the {count.get(F.AS_PAPER, 0) + count.get(F.UNLIKE_PAPER, 0)} findings that test a claim "
    f"of the paper, **{count.get(F.UNLIKE_PAPER, 0)} do not reproduce it** and "
    f"{count.get(F.AS_PAPER, 0)} do; {count.get(F.BEYOND, 0)} go beyond the paper. "
    + ("All are measured on " + study.title + ", not on the paper's CIFAR-100, and with "
       + ("a shortened training protocol" if study.run("gran-hbn", seeds[0]).config.shortened
          else "the paper's training protocol") + "."
       if dataset != "cifar100" else "")))'''),
    ("md", "```{glue:md} summary\n:format: myst\n```\n\n```{glue:md} findings\n:format: myst\n```"),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert 5 <= len(found) <= 9 and {f.verdict for f in found} <= {F.AS_PAPER, F.UNLIKE_PAPER, F.BEYOND}
print("findings:", len(found), "| keys:", [f.key for f in found])'''),
])

# --- the paper's results -------------------------------------------------------------------------

write("tau_sweep.ipynb", [
    ("md", "# Fig. 3 and Table II: the fine tolerance τ\n\nEvery test image is forced to exit "
           "at one branch; Algorithm 1's last-branch rule chooses fine iff e_f − τ < e_c. We "
           "sweep τ from the records (no network runs), per image (`sample`) and, as the "
           "authors did, on the mean entropies of consecutive batches of "
           "{glue:text}`p_decision_batch` images (`batch`)."),
    ("params", analysis_params("decision_batch", "batch_sizes", "tau_grid", "wide_points")),
    ("show", LOAD),
    # Table II / Fig. 3 analysis (helper A's cells): parameters in place of literals.
    ("code", '''a = study.run("gran-hbn", seeds[0]).arrays
grid, wide = parse_grid(tau_grid, A.paper_tau_grid()), A.wide_tau_grid(a, n=wide_points)
t0 = time.perf_counter()
sweeps = pd.concat([A.tau_sweep(a, wide, branch=b, mode=m, batch_size=decision_batch)
                    for b in range(3) for m in ("sample", "batch")], ignore_index=True)
sweep_seconds = time.perf_counter() - t0
print(f"6 sweeps of {len(wide)} τ values over {len(a['fine_true'])} images took {sweep_seconds:.3f} s\\n"
      "(the authors re-ran the test set once per τ)")
regions = A.operating_regions(a, wide, batch_sizes=(decision_batch,))
glue_figure("fig-tau-sweep", plots.tau_sweeps(sweeps, regions, caption, save_to=figures))
glue("grid_text", f"{grid[0]:g} to {grid[-1]:g}, {len(grid)} values")
glue("wide_text", f"{wide[0]:.3f} to {wide[-1]:.3f}, {len(wide):,} values")'''),
    figure("fig-tau-sweep", "The paper's Fig. 3, reproduced: test accuracy (top) and specificity δ "
           "(bottom) against τ, every image forced to exit at one branch, decided per image "
           "(solid) or once per batch (dashed); the shaded band is the batch-mode operating "
           "region on the wide grid. {glue:md}`caption`."),
    ("md", "**Operating region** (the paper's Table II definition, `hbn.analysis.operating_region`): "
           "over a τ grid, from the **last τ with specificity δ = 0 to the first τ with δ = 1**; "
           "size = end − start; `n_points` counts grid points with 0 < δ < 1. Applied to the "
           "authors' own Fig. 3 data this gives their Table II exactly (below). Where a grid never "
           "reaches δ = 0 or δ = 1 the limit lies **beyond the grid**: it is left blank, never set "
           "to the grid's edge. Below on the page's τ grid ({glue:text}`grid_text`; by default the "
           "authors' `np.arange(0, 1, 0.02)`) and on a wide grid spanning every e_f − e_c in the "
           "records ({glue:text}`wide_text`)."),
    ("code", '''paper_grid = A.operating_regions(a, grid, batch_sizes=(decision_batch,)).assign(grid="τ grid")
fine_grid = regions.assign(grid="wide grid")
table2 = pd.concat([paper_grid, fine_grid])[["exit", "mode", "batch_size", "grid", "region", "start", "end",
                                             "size", "n_points"]]
table(table2, f"Table II (ours, the paper's definition): operating regions of τ per branch — {caption}",
      "tbl-table2", note="—: the grid never reaches δ = 0 (start) or δ = 1 (end); the region "
      "column says on which side the limit lies beyond the grid.")'''),
    ("code", '''from hbn.study import AUTHORS_FIG3, AUTHORS_REGIONS
recomputed = pd.DataFrame([{"branch": b, **A.operating_region(g)} for b, g in AUTHORS_FIG3.groupby("branch")])
authors = AUTHORS_REGIONS.assign(region=[f"{s:.2f}–{e:.2f}" for s, e in zip(AUTHORS_REGIONS.start, AUTHORS_REGIONS.end)])
ours_batch = paper_grid[paper_grid["mode"] == "batch"].set_index("exit")
side = pd.DataFrame({"branch": authors.branch,
                     "authors: printed (paper Table II, CIFAR-100)": authors.region,
                     "authors: recomputed by us from their Fig. 3 data": recomputed.region.values,
                     f"ours: {study.title}, batch {decision_batch}, same grid":
                         ours_batch.loc[authors.branch, "region"].values})
table(side, f"Table II side by side, one definition (last τ with δ = 0 to first τ with δ = 1), "
      f"batch-mean decisions, the τ grid of this page. The authors' numbers are CIFAR-100, ours "
      f"{study.title}: compare the definition and the shape, not the level", "tbl-table2-authors")'''),
    ("md", "The paper remarks that the operating region grows as the test batch shrinks. "
           "Measured on our records (batch-mean decisions, the paper's definition, wide grid):"),
    ("code", '''by_batch = A.region_vs_batch_size(a, wide, batch_sizes=tuple(batch_sizes))
table(by_batch[["exit", "batch_size", "region", "start", "end", "size", "n_points"]],
      f"Operating region against the decision batch size, wide grid — {caption}", "tbl-region-vs-batch",
      note="—: beyond the grid.")'''),
    *what_this_shows('''shows = [F.operating_regions(study, grid, decision_batch, seeds[0]),
         F.region_vs_batch(study, batch_sizes, seeds[0])]'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
lo, hi = A.tau_sweep(a, [-1e9, 1e9], branch=0), A.tau_sweep(a, [-1e9, 1e9], branch=2, mode="batch")
assert lo.specificity.tolist() == [0.0, 1.0] and hi.specificity.tolist() == [0.0, 1.0]
assert (sweeps.groupby(["exit", "mode"]).specificity.apply(lambda s: s.is_monotonic_increasing)).all()
assert recomputed[["start", "end"]].values.tolist() == AUTHORS_REGIONS[["start", "end"]].values.tolist()
print("τ → -∞: all coarse; τ → +∞: all fine; specificity non-decreasing in τ:", True)
print("Table II recomputed from the authors' Fig. 3 data:", list(recomputed.region))'''),
])

write("comparison.ipynb", [
    ("md", "# Fig. 4 and Table I: the five models compared per branch\n\nEach model is forced "
           "to exit at each branch. Gran-HBN is a curve over τ (its specificity runs from 0 to "
           "1); AG-HBN is one point, routed per image by its semantic exit (the paper tested "
           "it at batch size 1). B-AlexNet is BranchyNet {cite:p}`teerapittayanon2016branchynet` "
           "on AlexNet {cite:p}`krizhevsky2012imagenet`; Sem-AlexNet answers coarse at its early "
           "exits, as in B-CNN {cite:p}`zhu2017bcnn`."),
    ("params", analysis_params("decision_batch")),
    ("show", LOAD),
    ("code", '''from hbn.study import AUTHORS_FORCED, forced_comparison, hyperparameters
ours = forced_comparison(study, percent=False)
branches = ["branch 1", "branch 2", "branch 3"]
table(ours, f"Test accuracy per forced branch, ours — {caption}", "tbl-forced", percent=branches,
      decimals={"specificity": 2}, note="—: the model has no exit at that branch (AlexNet), or "
      "no specificity to speak of (models that always answer at one granularity).")'''),
    ("code", '''table(AUTHORS_FORCED, "The authors' test accuracy (%) per forced branch — CIFAR-100 (100 fine / "
      f"20 coarse classes); not comparable in level with ours on {study.title}", "tbl-forced-authors",
      decimals=2)'''),
    ("code", '''a = study.run("gran-hbn", seeds[0]).arrays
wide = A.wide_tau_grid(a)
curves = pd.concat([A.tau_sweep(a, wide, branch=b, mode=m, batch_size=decision_batch)
                    for b in range(3) for m in ("sample", "batch")])
points = ours.melt(id_vars=["model", "answer", "specificity"], value_vars=branches,
                   var_name="branch", value_name="accuracy").dropna(subset=["accuracy"])
points["exit"] = points.branch.str[-1].astype(int)
fixed = {"AlexNet": 1.0, "B-AlexNet": 1.0}
points["specificity"] = points.apply(lambda r: fixed.get(r.model, r.specificity) if r.model != "Sem-AlexNet"
                                     else float(r.exit == 3), axis=1)
points = points[points.model != "Gran-HBN"]
glue_figure("fig-comparison", plots.comparison(points, curves, caption, save_to=figures))'''),
    figure("fig-comparison", "The paper's Fig. 4, reproduced: test accuracy against specificity δ "
           "per forced branch. Gran-HBN is a curve over τ (decided per image, solid, or per "
           "batch, dotted); the other models are points. {glue:md}`caption`."),
    ("md", "AG-HBN's point depends on what its semantic exit learned in post-training. Its "
           "validation statistics per post-training epoch: how often it answers fine, how often "
           "the eq. (8) target says fine, and their agreement (a head that always gives the "
           "majority answer agrees exactly as often as the majority share)."),
    ("code", '''post = pd.DataFrame([m for m in study.run("ag-hbn").metrics if m["phase"] == "post"])
sem = post[["epoch"] + [c for c in post if c.startswith("val_sem")]]
table(sem.rename(columns=lambda c: c.removeprefix("val_").replace("_", " ")),
      f"AG-HBN's semantic exit in post-training, validation set — {caption}", "tbl-ag-post", decimals=4)'''),
    ("code", '''hp = hyperparameters(study).reset_index(names="hyperparameter")
hp = hp.map(lambda v: "—" if v == "N/A" else ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v))
table(hp, f"Table I: hyperparameters actually used — {caption}", "tbl-table1",
      note="The paper's Table I: η 1.5e-4, λ 5e-4, w_n 1.0, 0.8, 0.6, w_f 1.5 (Gran-HBN) / 1.02 "
      "(AG-HBN), batch 64, 120 epochs (AG-HBN 100 + 20). —: not applicable to the model.")'''),
    *what_this_shows('''shows = [F.coarse_above_fine(study, seeds[0]), F.semantic_exit(study)]'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert list(ours.model) == ["AlexNet", "B-AlexNet", "Sem-AlexNet", "Gran-HBN", "Gran-HBN", "AG-HBN"]
assert ours[branches].stack().dropna().between(0, 1).all()
print("rows:", len(ours), "| AlexNet exits:", int(ours.iloc[0][branches].notna().sum()))'''),
])

write("entropy.ipynb", [
    ("md", "# Fig. 5: fine and coarse classification entropies per branch\n\nThe paper reads "
           "two things off Fig. 5: entropies fall with depth, and fine and coarse entropies "
           "overlap at every branch. The authors plot **the mean entropy of each consecutive batch "
           "of 64 test images**, with min–max ranges over batches (the paper's statistic); we also "
           "show **every image** (ours), a much wider distribution. Each table, verdict and panel "
           "says which statistic it uses (Gran-HBN, first seed)."),
    ("params", analysis_params("fig5_batch")),
    ("show", LOAD),
    # Fig. 5 analysis: both statistics, each labelled.
    ("code", '''from hbn import entropies as E
a = study.run("gran-hbn", seeds[0]).arrays
paper_stat = E.batch_entropies(a, batch_size=fig5_batch)
table(paper_stat.drop(columns="branch"), f"{E.statistic_label('batch', fig5_batch)}: entropy (nats) "
      f"per branch and head, mean, min and max over {paper_stat.n_batches.iloc[0]} consecutive "
      f"test batches (the last may be shorter) — {caption}", "tbl-entropy-paper")'''),
    ("code", '''per_image = E.entropy_summary(a, per="image")
cols = ["exit"] + [f"{g}_{q}" for q in ("q25", "median", "q75") for g in ("fine", "coarse")]
table(per_image[cols + ["overlap", "ranges_overlap"]], f"{E.statistic_label('image')}: entropy "
      f"(nats) per branch, quartiles — {caption}", "tbl-entropy-image",
      note="overlap: share of images whose fine entropy is below the branch's median coarse "
      "entropy; ranges_overlap: the fine and coarse min–max ranges intersect.")'''),
    ("code", '''verdicts = E.entropy_verdicts(a, batch_size=fig5_batch)
table(verdicts, "The paper's two readings of Fig. 5, under each statistic (falls with depth: the "
      "median over units, batches or images, strictly decreases from branch to branch)",
      "tbl-entropy-verdicts")
glue_figure("fig-entropy", plots.entropies(a, caption, save_to=figures, batch_size=fig5_batch))'''),
    figure("fig-entropy", "The paper's Fig. 5 under both statistics: top, the paper's (mean "
           "entropy of each batch of test images, with min–max ranges); bottom, ours (every "
           "image, box plots with min–max whiskers), per branch and head, Gran-HBN. "
           "{glue:md}`caption`."),
    *what_this_shows('''shows = [F.entropy_depth(study, seeds[0])]'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert per_image.overlap.between(0, 1).all() and (per_image.fine_median >= 0).all()
assert (paper_stat["min"] <= paper_stat["mean"]).all() and (paper_stat["mean"] <= paper_stat["max"]).all()
print("branches:", len(per_image), "| statistics:", list(verdicts.statistic))'''),
])

# --- beyond the paper ----------------------------------------------------------------------------

write("beyond.ipynb", [
    ("md", "# Beyond the paper\n\nPer-image vs per-batch routing, the oracle gap, dynamic early "
           "exits (accuracy vs cost vs specificity), several seeds with intervals, and measured "
           "latency per exit. Trading accuracy for specificity in a class hierarchy has a longer "
           "history than early exits: hedging bets {cite:p}`deng2012hedging`, operating points "
           "of hierarchical classifiers {cite:p}`valmadre2022hierarchical` and hierarchical "
           "selective classification {cite:p}`goren2024hierarchical`; measuring what an early "
           "exit really saves follows Shallow-Deep Networks {cite:p}`kaya2019shallow`."),
    ("params", analysis_params("decision_batch", "tau_grid", "thresholds", "dynamic_taus",
                               "latency_repeats")),
    ("show", LOAD),
    ("md", "## Per-image vs per-batch routing\nThe authors decided once per batch of "
           "{glue:text}`p_decision_batch` images from mean entropies, so specificity moves in "
           "steps of one batch. Deciding per image (the natural reading of Algorithm 1) traces "
           "the whole trade-off:"),
    ("code", '''a = study.run("gran-hbn", seeds[0]).arrays
wide = A.wide_tau_grid(a)
curves = pd.concat([A.tau_sweep(a, wide, branch=b, mode=m, batch_size=decision_batch)
                    for b in range(3) for m in ("sample", "batch")])
glue_figure("fig-routing-modes", plots.routing_modes(curves, caption, save_to=figures))
steps = curves.groupby(["exit", "mode"]).specificity.nunique().unstack().reset_index()
table(steps[["exit", "sample", "batch"]].rename(columns={"sample": "per image", "batch": f"per batch of {decision_batch}"}),
      f"Distinct specificity levels reached over the τ grid ({len(wide):,} values)", "tbl-levels")'''),
    figure("fig-routing-modes", "Test accuracy against specificity per branch, decided per image "
           "or once per batch, τ swept. {glue:md}`caption`."),
    ("md", "## The oracle gap\nPer image the oracle answers fine when the fine head is right, "
           "else coarse: the upper bound AG-HBN chases. Beside it, Gran-HBN at the oracle's "
           "specificity (nearest point of the per-image τ sweep) and AG-HBN's own point."),
    ("code", '''orc = A.oracle(a)
ag = study.run("ag-hbn").arrays
ag_fine = R.ag_hbn_forced(ag["sem_prob_fine"])
rows = []
for b, e in enumerate(a["exits"]):
    c = curves[(curves.exit == e) & (curves["mode"] == "sample")]
    near = c.iloc[(c.specificity - orc.oracle_specificity[b]).abs().argmin()]
    s = A.score(ag, *R.forced(len(ag_fine), b, ag_fine))
    rows.append({"branch": e, "oracle accuracy": orc.oracle_accuracy[b],
                 "oracle specificity": orc.oracle_specificity[b],
                 "Gran-HBN at that specificity": near.accuracy,
                 "AG-HBN accuracy": s["accuracy"], "AG-HBN specificity": s["specificity"]})
gap = pd.DataFrame(rows)
table(gap, f"The oracle gap — {caption}", "tbl-oracle-gap",
      percent=["oracle accuracy", "Gran-HBN at that specificity", "AG-HBN accuracy"],
      decimals={"oracle specificity": 3, "AG-HBN specificity": 3})'''),
    ("md", "## Dynamic early exits\nAlgorithm 1 with a threshold Th (same at every branch) and τ, "
           "per image. Mean cost from the exit mix and each exit's FLOPs, counted on an untrained "
           "copy of the architecture (weights do not change the cost)."),
    ("code", '''from hbn.notebook import input_shape, model_flops, untrained
width = study.run("gran-hbn", seeds[0]).config.width
flops = model_flops(dataset, ["alexnet", "gran-hbn"], width)
entropies = np.concatenate([a["fine_entropy"].ravel(), a["coarse_entropy"].ravel()])
ths = (np.quantile(entropies[~np.isnan(entropies)], np.linspace(0.05, 0.95, 10)) if thresholds is None
       else np.asarray(thresholds, dtype=float))
taus = np.linspace(wide[0], wide[-1], dynamic_taus)
t0 = time.perf_counter()
dyn = pd.concat([A.tau_sweep(a, taus, threshold=th, flops=flops["gran-hbn"]).assign(threshold=th)
                 for th in ths], ignore_index=True)
print(f"{len(dyn)} (Th, τ) settings scored in {time.perf_counter() - t0:.2f} s")
glue_figure("fig-dynamic", plots.dynamic_tradeoff(dyn, caption, save_to=figures))
rows = []  # per Th, the τ whose specificity comes nearest 0, 0.5 and 1
for th, g in dyn.groupby("threshold"):
    for target in (0.0, 0.5, 1.0):
        r = g.iloc[(g.specificity - target).abs().argmin()]
        rows.append({"Th (nats)": th, "target δ": target, "τ": r.tau, "δ": r.specificity,
                     "accuracy": r.accuracy, "MFLOPs": r.mean_flops / 1e6})
table(pd.DataFrame(rows), "Per threshold Th: accuracy and mean cost where the specificity comes "
      "nearest 0, 0.5 and 1", "tbl-dynamic", percent=["accuracy"],
      decimals={"target δ": 1, "MFLOPs": 2},
      note="With a threshold, some images exit coarse early whatever τ is, so δ = 1 may be out of reach.")'''),
    figure("fig-dynamic", "Dynamic early exits (Algorithm 1, per image): test accuracy against "
           "mean cost over thresholds Th and τ, coloured by specificity δ. {glue:md}`caption`."),
    ("md", "## Several seeds\nGran-HBN trained with the seeds {glue:text}`p_seeds` (same data "
           "split). Per seed, the forced-exit accuracies and the batch-mode operating-region "
           "size on the page's τ grid; then the mean and a 95 % Student-t interval over seeds, "
           "clipped to the quantity's possible range (with few seeds the interval is wide)."),
    ("code", '''from hbn.study import interval
grid = parse_grid(tau_grid, A.paper_tau_grid())
per_seed = []
for s in seeds:
    aa = study.run("gran-hbn", s).arrays
    f = A.forced_accuracy(aa)
    r = A.operating_regions(aa, grid, modes=("batch",), batch_sizes=(decision_batch,))
    for b, e in enumerate(aa["exits"]):
        per_seed.append({"seed": s, "branch": e, "all coarse": f.accuracy_spec0.iloc[b],
                         "all fine": f.accuracy_spec1.iloc[b], "region size": r["size"].iloc[b]})
per_seed = pd.DataFrame(per_seed)


def over_seeds(metric, upper):
    rows = []
    for e, g in per_seed.groupby("branch"):
        m, lo, hi = interval(g[metric].dropna())
        rows.append({"branch": e, **{f"seed {s}": v for s, v in zip(g.seed, g[metric])},
                     "mean": m, "95 % low": max(lo, 0.0), "95 % high": min(hi, upper)})
    return pd.DataFrame(rows)


acc = pd.concat([over_seeds(m, 1.0).assign(answer=m) for m in ("all coarse", "all fine")])
acc = acc[["answer"] + [c for c in acc if c != "answer"]]
display(table(acc, f"Gran-HBN forced-exit test accuracy over seeds — {caption}", "tbl-seeds-accuracy",
              percent=[c for c in acc if c not in ("answer", "branch")]))
table(over_seeds("region size", float(grid[-1] - grid[0])),
      f"Gran-HBN operating-region size (τ units), batch of {decision_batch}, over seeds — {caption}",
      "tbl-seeds-regions", note="—: the region is narrower than the grid step for that seed, or "
      "fewer than two seeds have a region.")'''),
    ("md", "## Latency per exit\nA batch-1 forward pass that really stops at each exit "
           "(`hbn.cost.exit_latency`, {glue:text}`p_latency_repeats` timed passes), on the CPU of "
           "the machine that executed this page, timed on untrained copies of the architectures: "
           "the weights do not change the cost. Ratios are to AlexNet's full pass."),
    ("code", '''import torch
from hbn.cost import exit_latency
lat = []
for m in [m for m in ("alexnet", "b-alexnet", "gran-hbn") if m in models]:
    net = untrained(m, dataset, width)
    for r in exit_latency(net, input_shape(dataset), repeats=latency_repeats):
        lat.append({"model": m, "exit": net.exit_stages[r["exit"]] + 1, "median_ms": 1e3 * r["median_s"],
                    "q25_ms": 1e3 * r["q25_s"], "q75_ms": 1e3 * r["q75_s"], "threads": r["threads"]})
lat = pd.DataFrame(lat)
base = lat[lat.model == "alexnet"].median_ms.iloc[0]
lat["ratio to AlexNet"] = lat.median_ms / base
threads = f"{torch.get_num_threads()} thread" + ("s" if torch.get_num_threads() > 1 else "")
glue_figure("fig-latency", plots.latency(lat, f"{caption} · {threads}", save_to=figures))
table(lat.rename(columns={"median_ms": "median (ms)", "q25_ms": "25 % (ms)", "q75_ms": "75 % (ms)"}),
      f"Measured latency per exit, batch 1, {threads}", "tbl-latency",
      decimals={"ratio to AlexNet": 2})'''),
    figure("fig-latency", "Measured latency of a batch-1 forward pass that stops at each exit "
           "(median and interquartile range). {glue:md}`caption`."),
    *what_this_shows('''shows = [F.routing_levels(study, decision_batch, seeds[0]), F.oracle_gap(study, seeds[0]),
         F.exit_cost(flops, study.title)]'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert (gap["oracle accuracy"] >= gap[["Gran-HBN at that specificity"]].max(axis=1) - 1e-9).all()
assert dyn.specificity.between(0, 1).all() and (lat.median_ms > 0).all()
print("oracle bounds Gran-HBN at equal specificity:", True, "| seeds:", len(seeds))'''),
])

# --- methods -------------------------------------------------------------------------------------

write("methods.ipynb", [
    ("md", "# Methods\n\nWhat was trained, on what data, and how its answers are routed; the "
           "terms the results pages use are defined here with the paper's equations "
           "{cite:p}`sanati_granular`. Facts the paper leaves out come from the authors' public "
           "code and are collected in the [design notes](../../docs/design.md)."),
    ("params", analysis_params("decision_batch")),
    ("show", LOAD),
    ("md", "## The models\n\nAll five models share one AlexNet-style trunk "
           "{cite:p}`krizhevsky2012imagenet` of three stages. A **branch**, or **exit**, is a "
           "classifier attached after a stage; branch *n* follows stage *n*, and branch 3 is the "
           "end of the network. **AlexNet** has only branch 3. **B-AlexNet** is BranchyNet "
           "{cite:p}`teerapittayanon2016branchynet`: a fine classifier at every branch. "
           "**Sem-AlexNet** answers coarse at branches 1 and 2 and fine at 3, in the manner of "
           "B-CNN {cite:p}`zhu2017bcnn`. **Gran-HBN** has a fine and a coarse head at every "
           "branch. **AG-HBN** is Gran-HBN plus a two-way *semantic exit* on branch 1 that "
           "chooses the granularity. Costs are counted on untrained copies (weights do not "
           "change them); an exit's cost includes every layer run to reach it."),
    ("code", '''from hbn.models import MODEL_EXITS, MODEL_TITLES, count_parameters
from hbn.notebook import model_flops, untrained
width = study.run("gran-hbn", seeds[0]).config.width
flops = model_flops(dataset, models, width)
rows = []
for m in models:
    heads = {f"exit {i + 1} heads": ("—" if s is None else " + ".join(s.heads) + (" + semantic" if s.semantic else ""))
             for i, s in enumerate(MODEL_EXITS[m])}
    mf = dict(zip((st + 1 for st in untrained(m, dataset, width).exit_stages), flops[m]))
    rows.append({"model": MODEL_TITLES[m], **heads, "parameters": count_parameters(untrained(m, dataset, width)),
                 **{f"MFLOPs to exit {e}": mf[e] / 1e6 if e in mf else np.nan for e in (1, 2, 3)}})
table(pd.DataFrame(rows), f"The five models: heads per exit, parameters and cost per exit "
      f"({study.title} input shapes, width {width})", "tbl-models", decimals=2,
      note="—: no exit at that branch.")'''),
    ("code", '''from hbn.findings import AUTHORS_MFLOPS
cifar = model_flops("cifar100", ["alexnet", "gran-hbn"])
rows = [{"model": MODEL_TITLES[m], "who": who, **{f"exit {e}": v for e, v in zip((3,) if m == "alexnet" else (1, 2, 3), vals)}}
        for m in ("alexnet", "gran-hbn")
        for who, vals in (("ours", [f / 1e6 for f in cifar[m]]), ("authors", AUTHORS_MFLOPS[m]))]
table(pd.DataFrame(rows)[["model", "who", "exit 1", "exit 2", "exit 3"]], "MFLOPs per exit on CIFAR-100 shapes (3×32×32, 100 fine / 20 coarse "
      "classes), ours against the authors' counts (thop)", "tbl-flops-authors", decimals=2)'''),
    ("md", "## The data and its class hierarchy\n\nThe paper uses CIFAR-100 "
           "{cite:p}`krizhevsky2009learning`: 100 fine classes in 20 superclasses. Where it cannot "
           "be obtained, this study uses Fashion-MNIST {cite:p}`xiao2017fashion`, zero-padded to "
           "32×32, with a six-superclass hierarchy that groups the classes most often confused. "
           "The hierarchy of the data used here:"),
    ("code", '''from hbn import hierarchy as H
h = {"cifar100": H.CIFAR100, "fashion-mnist": H.FASHION_MNIST, "synthetic": H.synthetic()}[dataset]
table(pd.DataFrame({"coarse class": list(h.coarse_names),
                    "fine classes": [", ".join(h.fine_names[f] for f in h.children(c)) for c in range(h.num_coarse)]}),
      f"Class hierarchy of {study.title}: {h.num_fine} fine classes in {h.num_coarse} coarse ones",
      "tbl-hierarchy")'''),
    ("md", "## Exit rules and the terms the results use\n\n"
           "- **Entropies.** At each exit, e_f and e_c are the entropies of the fine and coarse "
           "softmax outputs (eqs. 3 and 9, in nats): low entropy, confident head.\n"
           "- **Forced exit.** Every image leaves at one chosen branch; Figs. 3–5 use forced exits.\n"
           "- **Algorithm 1 (Gran-HBN).** With an entropy threshold Th and a **fine tolerance τ**, "
           "an image leaves at the first branch where it can: fine if e_f < Th and e_f − τ < e_c, "
           "else coarse if e_c < Th; the last branch always answers, fine iff e_f − τ < e_c. "
           "Larger τ means more fine answers: τ → −∞ gives none, τ → +∞ only fine ones.\n"
           "- **Specificity δ** (eq. 13): the share of fine answers. **Accuracy** scores each "
           "answer at the granularity it was given; **hierarchical accuracy** scores every answer "
           "at the coarse level.\n"
           "- **Decision units.** The authors applied the rule to the mean entropies of "
           "consecutive batches of {glue:text}`p_decision_batch` test images, one decision per "
           "batch (*batch* mode); we also decide per image (*sample* mode).\n"
           "- **Operating region** (our definition of the paper's Table II): over a τ grid, the "
           "smallest and largest τ at which δ is strictly between 0 and 1.\n"
           "- **AG-HBN.** The semantic exit's output replaces the τ comparison (eq. 12); it is "
           "post-trained towards the target of eq. (8) with the loss of eq. (11).\n"
           "- **Oracle.** Per image, fine when the fine head is right, else coarse: the best any "
           "fine/coarse decision could do at that branch."),
    ("md", "## Decisions we took where the paper is silent or its code differs\n\n"
           "- The test set is evaluated **without augmentation** (the authors' code applied the "
           "random training transform at test time) ([design notes §1](../../docs/design.md#1-data-and-hierarchy)).\n"
           "- Kaiming-normal initialisation of the conv weights **really runs** (the authors' call "
           "was a no-op) ([§3](../../docs/design.md#3-training-paper-table-i--authors-code)).\n"
           "- Algorithm 1 is the specification: larger τ means more fine answers (the paper's "
           "bullet list; the sentence after Algorithm 1 states the limits the wrong way round). "
           "The authors' extra condition e_c < e_f − τ before a coarse exit is not applied "
           "([§4](../../docs/design.md#4-inference-semantics)).\n"
           "- Routing is implemented **per image** (default for new analysis) and **per batch** of "
           "{glue:text}`p_decision_batch` mean entropies (to reproduce the paper).\n"
           "- The per-exit loss is PyTorch's mean cross-entropy: eq. (5)'s extra 1/|C| factor is "
           "not applied (the authors' code does not apply it either); granularities are weighted "
           "by w_g only ([§3](../../docs/design.md#3-training-paper-table-i--authors-code)).\n"
           "- AG-HBN: the semantic exit sits on exit 1's 2048-d feature; post-training freezes "
           "everything else. H_gran of eq. (10), computed at exit 1, carries no gradient once all "
           "other weights are frozen; it is reported with the loss.\n"
           "- Fashion-MNIST, when CIFAR-100 is unavailable, with the hierarchy above; images "
           "zero-padded to 32×32 ([§1](../../docs/design.md#1-data-and-hierarchy))."),
    ("code", '''# NBVAL_CHECK_OUTPUT
print("models:", len(models), "| fine:", h.num_fine, "| coarse:", h.num_coarse)'''),
])

# --- appendix ------------------------------------------------------------------------------------

write("evaluate.ipynb", [
    ("md", "# Evaluation: test accuracy of every exit\n\nEach training page ran one deterministic "
           "pass over the test set (no augmentation; the authors' code augmented test images "
           "too, we do not) and stored `records.csv.gz`: per image and exit, the predictions, "
           "entropies and maximum probabilities of both heads and AG-HBN's semantic probability. "
           "This page and every later one read those records; none re-runs a network."),
    ("params", ANALYSIS_PARAMS),
    ("show", LOAD),
    ("code", '''from hbn.evaluate import accuracy_table
from hbn.models import MODEL_TITLES
rows = []
for (model, seed), run in study.runs.items():
    acc = accuracy_table(run.records).reset_index()
    rows.append(acc.assign(model=MODEL_TITLES[model], seed=seed))
acc = pd.concat(rows, ignore_index=True)[["model", "seed", "branch", "fine", "coarse", "fine_as_coarse"]]
table(acc.rename(columns={"fine_as_coarse": "fine answer at coarse level"}),
      f"Test accuracy per exit and granularity — {caption}", "tbl-test-accuracy",
      percent=["fine", "coarse", "fine answer at coarse level"],
      note="fine answer at coarse level: the fine answer scored at its superclass. "
      "—: the exit has no head of that granularity.")'''),
    ("md", "## What training cost\n\nPer run, from its log: the epochs trained and the sum of "
           "their training time (the validation pass after each epoch and the test evaluation "
           "are not included), with where and in what precision it ran. Runs trained side by "
           "side on one machine share its cores, so their images/s are lower than alone. In all: "
           "{glue:md}`train_total`."),
    ("code", '''from hbn.study import training_cost
cost = training_cost(study)
display(table(cost, f"Training time per run — {caption}", "tbl-training-cost", decimals=1))
glue("train_total", Markdown(f"{cost['training minutes'].sum():.0f} minutes of training for "
                             f"{len(cost)} runs ({cost['epochs'].sum()} epochs)"), display=False)'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert acc[["fine", "coarse"]].stack().dropna().between(0, 1).all()
print("runs:", len(study.runs), "| test images:", len(next(iter(study.runs.values())).arrays["fine_true"]),
      "| rows:", len(acc))'''),
])

write("train.ipynb", [
    ("md", "# Training run: {model}, seed {seed}\n\nJoint training of every exit (eq. 7, Table I); "
           "AG-HBN adds post-training of its semantic exit (eqs. 8–11). A finished run of the "
           "same configuration is reused; an interrupted one is resumed from its last "
           "checkpoint. The page then writes the run's exit records (one deterministic pass over "
           "the test set) if they are missing: every analysis page reads those, never the weights."),
    ("params", run_config_params()),
    ("show", '''import json
import pandas as pd
from IPython.display import Markdown, display
from hbn import plots, runs
from hbn.config import make_config
from hbn.evaluate import accuracy_table
from hbn.notebook import data_folder, effective_config, glue_figure, provenance
from hbn.records import RECORDS_FILE, load_records
from hbn.study import DATASET_TITLES
from hbn.tables import table
from hbn.train import train_or_reuse

cfg = make_config(profile, **{k: v for k, v in params.items() if k != "profile"})
caption = f"{DATASET_TITLES[cfg.dataset]} · {cfg.profile} profile"
display(Markdown(f"**{cfg.model}, seed {cfg.seed}: {caption}**" +
                 (f" — **shortened: {'; '.join(cfg.departures())}**" if cfg.shortened else "")))'''),
    ("code", '''run = train_or_reuse(cfg)  # prints one line of validation metrics per epoch
if not (run / RECORDS_FILE).exists():  # the exit records every analysis page reads
    from hbn.evaluate import evaluate
    evaluate(run, device=cfg.device)
    print(f"exit records written to {run / RECORDS_FILE}")
meta = json.loads((run / "meta.json").read_text())'''),
    ("show", '''provenance(precision=f"training {meta.get('precision', 'fp32')}",
           extra=f"run trained at revision {meta.get('git', 'unknown')} on {meta.get('device', '?')}")'''),
    ("show", '''rows = effective_config(cfg, params, meta, run, data_folder(cfg.dataset, cfg.data_dir))
table(pd.DataFrame(rows, columns=["field", "value", "from"]),
      f"Configuration of this run, effective values — {caption}", f"tbl-config-{cfg.model}-s{cfg.seed}")'''),
    ("code", '''metrics = runs.read_metrics(run)
ep = pd.DataFrame(metrics)
acc_cols = [c for c in ep if c.startswith("val_exit")]
sem_cols = [c for c in ep if c.startswith("val_sem")]
names = {"train_loss": "loss", "img_per_s": "img/s", "val_sem_fine_share": "semantic: fine",
         "val_sem_target_fine_share": "target: fine", "val_sem_agreement": "agreement",
         **{c: c[len("val_"):].replace("exit", "exit ").replace("_", " ") for c in acc_cols}}
shown = ep[["epoch", "phase", "train_loss", "img_per_s"] + acc_cols + sem_cols].rename(columns=names)
table(shown, f"Per epoch: training loss and validation accuracy of every exit head — {caption}",
      f"tbl-epochs-{cfg.model}-s{cfg.seed}", percent=[names[c] for c in acc_cols],
      decimals={"loss": 4, "img/s": 0, "semantic: fine": 3, "target: fine": 3, "agreement": 3},
      note="semantic: fine, target: fine: shares of validation images the semantic exit and its "
           "eq. (8) target answer fine. —: these exist in post-training epochs only." if sem_cols else "")'''),
    ("code", '''glue_figure("fig-training", plots.training_curves(metrics, f"{cfg.model}, seed {cfg.seed} — {caption}", save_to=run))'''),
    figure("fig-training-{model}-s{seed}", "Training loss and validation accuracy per epoch for "
           "{model}, seed {seed}. For AG-HBN the shaded epochs are post-training of the semantic "
           "exit, with its own loss (eq. 11).", key="fig-training"),
    ("code", '''test = accuracy_table(load_records(run)).reset_index()
table(test.rename(columns={"fine_as_coarse": "fine answer at coarse level"}),
      f"Test accuracy of this run per exit, from its exit records — {caption}",
      f"tbl-test-{cfg.model}-s{cfg.seed}", percent=["fine", "coarse", "fine answer at coarse level"],
      note="—: the exit has no head of that granularity.")'''),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert [m["epoch"] for m in metrics] == list(range(1, cfg.epochs + 1))
assert all(0 <= v <= 1 for m in metrics for k, v in m.items() if k.startswith("val_"))
print(cfg.model, "epochs:", len(metrics), "phases:", sorted({m["phase"] for m in metrics}))'''),
], parameters_table=False)

# --- Choosing the operating point (issue 10): selectors, targets that hold, FLOPs budgets --------


write("operating_point.ipynb", [
    ("md", """# Choosing the operating point

The paper picks τ by eye from test-set curves (Table II), and AG-HBN's semantic exit gives one
point (eq. 12 at 0.5). Someone who deploys Gran-HBN asks something else: *give me as many fine
answers as possible, or as little compute as possible, while accuracy stays at least X* — and
the answer must come from data other than the images it is checked on. This page answers it
from exit records alone: the test records, and validation records written by the same
deterministic pass over the validation split that training holds out (`records-val.csv.gz`).

**Method.** A *granularity selector* gives each image a score at a branch; the image answers
fine if its score is among the highest, coarse otherwise. Sweeping the share of fine answers
traces an accuracy–specificity curve in one sort (Deng et al., *Hedging your bets*, CVPR 2012;
Valmadre, NeurIPS 2022). Selectors compared, all per image (sample mode), on the test set:

| selector | score | whose |
| --- | --- | --- |
| entropy gap | e_c − e_f: fine iff e_f − τ < e_c (Algorithm 1) | the paper's τ rule |
| AG-HBN P(fine) | the semantic exit's probability of "fine", swept over its threshold | the paper's exit (eq. 12 fixes 0.5); the sweep is ours |
| max-probability gap | max fine probability − max coarse probability | ours |
| learned: fine right | logistic regression fitted on **validation** records to predict "the fine answer is right", from the entropies, max probabilities, their gaps and whether the fine answer's superclass agrees with the coarse answer, at every exit up to the branch | ours |
| learned: fine loses nothing | the same model and features, fitted to predict "answering fine costs nothing" (the fine answer is right, or the coarse answer is wrong too): only an image whose fine answer is wrong while its coarse answer is right loses accuracy by answering fine | ours |
| oracle | fine where that gains most (fine answer right and coarse wrong first) | a bound, not a rule |

**A target that holds.** Given a target accuracy and a confidence, τ (and, for dynamic early
exits, the threshold Th) are chosen on *calibration records* only: along a grid fixed before any
record is read, each point's one-sided Clopper–Pearson lower bound on accuracy must reach the
target; points are tested in order of increasing τ and testing stops at the first failure
(fixed-sequence testing, Bonferroni over the thresholds Th). The chosen point's accuracy on the
distribution the calibration images come from is then below the target with probability at most
1 − confidence (in the manner of Goren, Galil and El-Yaniv, NeurIPS 2024; the procedure is ours).
A FLOPs budget is handled the same way, without a guarantee: the most accurate (Th, τ) whose
mean FLOPs on the calibration records fit the budget.

Two sources of calibration records are compared, and both are checked on the same held-out
images. The test set is cut at random (seeded by the run's seed) into a calibration half and a
held-out half. **Validation**: the validation split, cut from the *training* file, which the test
images need not resemble. **Test half**: the calibration half of the test set, exchangeable with
the held-out half by construction, so the guarantee applies to it."""),
    ("params", analysis_params("targets", "confidence", "flops_budgets", "calibrate_on")),
    ("show", LOAD),
    ("code", '''from hbn import selection as S
from hbn.records import as_arrays, load_records
from hbn.study import interval
gran_seeds = study.seeds("gran-hbn")
val, missing = {}, []
for s in gran_seeds:
    run = study.run("gran-hbn", s)
    try:
        val[s] = as_arrays(load_records(run.path, split="val"))
    except FileNotFoundError:
        missing.append(run.path)  # a corrupt file (RecordsError) stops the page: it names the fix
if missing:
    display(Markdown(
        '<div style="border:3px solid #c00;padding:0.6em"><b>Validation records are missing</b> for '
        + ", ".join(f"<code>{p}</code>" for p in missing) + ". These runs were evaluated before "
        "<code>records-val.csv.gz</code> existed. Make them with <code>python -m hbn evaluate &lt;run dir&gt;</code> "
        "for each run listed (one deterministic pass over the test and validation splits, no training), "
        "then execute this page again. Until then the learned selectors, and the targets and budgets "
        "calibrated on validation, are left out for those seeds.</div>"))
print("Gran-HBN seeds:", gran_seeds, "| with validation records:", sorted(val))'''),
    ("md", """## Selectors on one frontier

One panel per branch; every image is forced to exit there. Gran-HBN, first seed; AG-HBN's curve
and its eq. (12) point come from the AG-HBN network, a different model with its own fine and
coarse heads."""),
    ("code", '''ag = study.run("ag-hbn").arrays if ("ag-hbn", 0) in study.runs else None
branches = range(len(study.run("gran-hbn", gran_seeds[0]).arrays["exits"]))


def seed_curves(seed):
    a = study.run("gran-hbn", seed).arrays
    fitted = lambda b: [S.fit_learned(val[seed], b, t) for t in S.LEARNED] if seed in val else ()  # noqa: E731
    return pd.concat([S.selector_curves(a, b, fitted(b), ag if seed == gran_seeds[0] else None)
                      for b in branches], ignore_index=True)


curves = {s: seed_curves(s) for s in gran_seeds}
points = None
if ag is not None:
    half = R.ag_hbn_forced(ag["sem_prob_fine"])
    points = pd.DataFrame([dict(label="AG-HBN, eq. (12) at 0.5", exit=int(ag["exits"][b]),
                                **{k: v for k, v in A.score(ag, *R.forced(len(half), b, half)).items()
                                   if k in ("accuracy", "specificity")}) for b in branches])
glue_figure("fig-operating", plots.operating_curves(curves[gran_seeds[0]], points, caption, save_to=figures))'''),
    figure("fig-operating", "Test accuracy against specificity δ per branch for each granularity "
           "selector, Gran-HBN's first seed, decided per image; AG-HBN's swept semantic exit on its "
           "own network, with its eq. (12) point. {glue:md}`caption`."),
    ("code", '''summary = pd.concat({s: S.curve_summary(c) for s, c in curves.items()}, names=["seed"]).reset_index(0)
first = summary[summary.seed == gran_seeds[0]]
wide = first.pivot(index="selector", columns="exit", values=["auc", "specificity_kept"])
wide.columns = [f"{'AUC' if m == 'auc' else 'δ kept'}, branch {e}" for m, e in wide.columns]
table(wide.reset_index(), f"Area under the accuracy–specificity curve (δ from 0 to 1, accuracy as a "
      f"fraction) and specificity δ kept at all-coarse accuracy − 0.5 pt, per branch — Gran-HBN seed "
      f"{gran_seeds[0]} (AG-HBN: its own network), test set, per image — {caption}", "tbl-op-auc",
      decimals=4, note="—: the selector does not apply at that branch.")'''),
    ("code", '''paired = summary.pivot_table(index=["seed", "exit"], columns="selector", values=["auc", "specificity_kept"])
gain = None
learned = [m for m in S.LEARNED.values() if m in set(summary.selector)]
if learned:
    gain = pd.concat({m: pd.DataFrame({k: paired[(k, m)] - paired[(k, S.PAPER_TAU)]
                                       for k in ("auc", "specificity_kept")}).dropna()
                      for m in learned}, names=["selector"])
    rows = []
    for (m, e), g in gain.groupby(["selector", "exit"]):
        for k in ("auc", "specificity_kept"):
            mean, lo, hi = interval(g[k])
            rows.append({"selector": m, "branch": e, "metric": f"{k} − τ's", "seeds": len(g), "mean": mean,
                         "95% low": lo, "95% high": hi, "seeds where learned > τ": int((g[k] > 0).sum())})
    display(table(pd.DataFrame(rows), f"Learned selectors minus the paper's τ rule, Gran-HBN seeds "
                  f"{sorted(val)} — {caption}", "tbl-op-learned", decimals=4,
                  note="—: one seed gives no interval."))
else:
    display(Markdown("**Learned selector: not fitted — no seed has validation records.**"))'''),
    ("md", """## Accuracy targets chosen on calibration records, checked on held-out test images

Per Gran-HBN seed, target and calibration source: the forced exit at each branch answering fine
as often as the guarantee allows, and dynamic early exits (Algorithm 1, per image) with the
fewest mean FLOPs, all checked on the held-out half of the test set. `certified`: some point's
lower bound reached the target (otherwise the target is out of reach at this confidence with
this many calibration images). `held`: the accuracy on the held-out half reached the target;
`margin`: that accuracy minus the target, in points. The guarantee is about the accuracy on the
images' distribution, not on a finite half: a point whose true accuracy sits just above the
target falls below it on 5,000 images by sampling noise about as often as not (one standard
error is {glue:md}`op_se` points there), so small negative margins are expected even when the
guarantee holds; margins of several standard errors, in one direction, mean the calibration
images are not drawn like the test images."""),
    ("code", '''from hbn import targets as T
from hbn.notebook import model_flops  # counted on an untrained copy: no weights, no data
SOURCES = ("validation", "test half")
if not isinstance(calibrate_on, (list, tuple)) or not calibrate_on or set(calibrate_on) - set(SOURCES):
    raise ValueError(f"calibrate_on: {calibrate_on!r}; give a non-empty list of {' and/or '.join(SOURCES)}")
width = study.run("gran-hbn", gran_seeds[0]).config.width
flops = np.asarray(model_flops(dataset, ["gran-hbn"], width)["gran-hbn"], float)


def calibrations(s):
    # {source: (records the point is chosen on, the held-out half it is checked on)}
    half, held_out = T.split(study.run("gran-hbn", s).arrays, 0.5, seed=s)
    out = {}
    if "validation" in calibrate_on and s in val:
        out["validation"] = (val[s], held_out)
    if "test half" in calibrate_on:
        out["test half"] = (half, held_out)
    return out


cals = {(s, src): c for s in gran_seeds for src, c in calibrations(s).items()}
n_held = len(next(iter(cals.values()))[1]["fine_true"]) if cals else 0
rows = []
for (s, src), (cal, held_out) in cals.items():
    grids = {f"branch {b + 1} forced, most fine": (b, T.tau_table(cal, branch=b, flops=flops)) for b in branches}
    grids["dynamic, fewest FLOPs"] = (None, T.tau_table(cal, flops=flops))
    for target in targets:
        for name, (b, grid_table) in grids.items():
            c = T.choose_for_target(grid_table, target, confidence, "flops" if b is None else "specificity")
            t = T.on_records(held_out, c, branch=b, flops=flops)
            rows.append({"seed": s, "calibrated on": src, "target": target, "routing": name,
                         "certified": c["certified"], "Th": c["Th"], "τ": c["tau"],
                         "cal. lower bound": c["lower_bound"], "cal. δ": c["cal_specificity"],
                         "accuracy": t["accuracy"], "margin": 100 * (t["accuracy"] - target),
                         "δ": t["specificity"], "MFLOPs": t["mean_flops"] / 1e6,
                         "held": bool(t["accuracy"] >= target) if c["certified"] else None})
chosen = pd.DataFrame(rows)
if len(chosen):
    display(table(chosen, f"Targets at confidence {confidence:.0%}, chosen on calibration records, checked "
                  f"on the held-out half of the test set ({n_held:,} images) — {caption}", "tbl-op-targets",
                  percent=["target", "cal. lower bound", "accuracy"], decimals=4,
                  note="—: no point certified (target out of reach). margin: held-out accuracy − target, points."))
    cert = chosen[chosen.certified]
    by = ["calibrated on", "target"]
    held = pd.DataFrame({"choices": chosen.groupby(by).size(),
                         "certified": chosen.groupby(by).certified.sum(),
                         "held": cert.groupby(by).held.sum()}).fillna(0).astype(int)
    held["worst margin (points)"] = cert.groupby(by).margin.min()
    display(table(held.reset_index(), "How often the target held on the held-out half, among certified "
                  "choices (all seeds and routings), per calibration source", "tbl-op-held",
                  percent=["target"], decimals=2))'''),
    ("md", """## FLOPs budgets

Dynamic early exits, per image: the most accurate (Th, τ) on the calibration records whose mean
FLOPs fit the budget (a share of the deepest exit's FLOPs), reported as above. No guarantee here:
the budget is met on the calibration records, and the last column says whether it was met where
it is reported too."""),
    ("code", '''rows = []
for (s, src), (cal, held_out) in cals.items():
    grid_table = T.tau_table(cal, flops=flops)
    for share in flops_budgets:
        c = T.choose_for_budget(grid_table, share * flops[-1])
        t = T.on_records(held_out, c, flops=flops)
        rows.append({"seed": s, "calibrated on": src, "budget (share of exit 3)": share,
                     "budget MFLOPs": share * flops[-1] / 1e6, "feasible": c["feasible"], "Th": c["Th"],
                     "τ": c["tau"], "cal. accuracy": c["cal_accuracy"], "accuracy": t["accuracy"],
                     "δ": t["specificity"], "MFLOPs": t["mean_flops"] / 1e6,
                     "within budget": bool(t["mean_flops"] <= share * flops[-1]) if c["feasible"] else None})
budgets = pd.DataFrame(rows)
if len(budgets):
    display(table(budgets, f"FLOPs budgets, chosen on calibration records, reported on others — {caption}",
                  "tbl-op-budgets", percent=["cal. accuracy", "accuracy"], decimals=4,
                  note="—: no (Th, τ) fits the budget on the calibration records."))'''),
    ("code", '''# The numbers the findings quote, glued (never typed).
def md(key, text):
    glue(key, Markdown(text), display=False)


def mean_of(selector, col):
    x = first.loc[first.selector == selector, col]
    return f"{x.mean():.3f}" if len(x) else "n/a"


md("op_caption", caption)
for key, selector in (("tau", S.PAPER_TAU), ("maxprob", "max-prob gap (ours)"),
                      ("learned", S.LEARNED["fine right"]), ("noloss", S.LEARNED["no loss"]),
                      ("oracle", "oracle (bound)"), ("ag", S.PAPER_SEMANTIC)):
    md(f"op_auc_{key}", mean_of(selector, "auc"))
    md(f"op_kept_{key}", mean_of(selector, "specificity_kept"))


def verdict(g):
    """One learned selector against τ, over seeds (mean over branches: one value per seed)."""
    per_seed = g.groupby("seed").mean()
    m, lo, hi = interval(per_seed["auc"])
    word = ("beats the τ rule" if np.isfinite(lo) and lo > 0 else
            "is worse than the τ rule" if np.isfinite(hi) and hi < 0 else
            "does not beat the τ rule with confidence")
    ci = f" (95% interval over seeds {lo:+.4f} to {hi:+.4f})" if np.isfinite(lo) else " (one seed: no interval)"
    return (f"{word}: its area under the curve differs from τ's by {m:+.4f} on average over "
            f"{len(per_seed)} seed{'s' if len(per_seed) != 1 else ''} and the branches{ci}; it is larger in {int((g['auc'] > 0).sum())} of "
            f"{len(g)} seed–branch pairs and keeps {per_seed['specificity_kept'].mean():+.3f} specificity "
            f"at all-coarse accuracy − 0.5 pt")


if gain is not None and len(gain):
    for key, t in (("op_learned", "fine right"), ("op_noloss", "no loss")):
        m = S.LEARNED[t]
        md(key, verdict(gain.loc[m]) if m in gain.index.get_level_values(0) else "was not fitted")
else:
    md("op_learned", "was not fitted: no seed has validation records (see the note at the top)")
    md("op_noloss", "was not fitted either")


def held_text(src):
    c = chosen[(chosen["calibrated on"] == src) & chosen.certified] if len(chosen) else chosen
    n = int((chosen["calibrated on"] == src).sum()) if len(chosen) else 0
    if not n:
        return (f"on {src}: not computed (no seed has validation records)" if src == "validation"
                else f"on {src}: not computed")
    if not len(c):
        return f"on {src}: none of {n} choices was certified at {confidence:.0%} confidence (all out of reach)"
    return (f"on {src}: {len(c)} of {n} (seed, target, routing) choices were certified at {confidence:.0%} "
            f"confidence; on the held-out half the target held in {int(c.held.sum())} of them, and the "
            f"margins ran from {c.margin.min():+.2f} to {c.margin.max():+.2f} points")


t_mid = float(np.median(targets))
md("op_se", f"{100 * np.sqrt(t_mid * (1 - t_mid) / max(n_held, 1)):.2f} (at a target of {t_mid:.0%})")


md("op_targets", "Calibrated " + "; calibrated ".join(held_text(src) for src in calibrate_on))
if len(budgets) and budgets.feasible.any():
    f = budgets[budgets.feasible]
    md("op_budgets", f"{len(f)} of {len(budgets)} budget choices were feasible on their calibration records; "
       f"where reported they reached accuracy {f['accuracy'].min():.3f} to {f['accuracy'].max():.3f} and "
       f"stayed within budget in {int(f['within budget'].sum())} of {len(f)}")
elif not len(budgets):
    md("op_budgets", "not computed: no calibration records")
else:
    md("op_budgets", "no budget was feasible: each lies below the cheapest exit's FLOPs")'''),
    ("md", """## Findings

- **One frontier.** On {glue:md}`op_caption` (test set, per image, Gran-HBN's first seed, mean
  over branches), the area under the accuracy–specificity curve is {glue:md}`op_auc_tau` for the
  paper's τ rule, {glue:md}`op_auc_maxprob` for the max-probability gap and
  {glue:md}`op_auc_learned` and {glue:md}`op_auc_noloss` for the learned selectors (fine
  right; fine loses nothing); AG-HBN's swept semantic exit reaches
  {glue:md}`op_auc_ag` on its own network, and the oracle bounds them all at
  {glue:md}`op_auc_oracle`. Specificity kept at all-coarse accuracy − 0.5 pt: τ
  {glue:md}`op_kept_tau`, max-probability gap {glue:md}`op_kept_maxprob`, learned
  {glue:md}`op_kept_learned` and {glue:md}`op_kept_noloss`, oracle {glue:md}`op_kept_oracle`.
- **The learned selector that predicts "the fine answer is right"** {glue:md}`op_learned`.
- **The learned selector with our target ("answering fine costs nothing")** {glue:md}`op_noloss`.
- **Targets.** {glue:md}`op_targets`.
- **Budgets.** {glue:md}`op_budgets`.

The guarantee concerns the test *distribution*: a finite test set can still fall just below a
target that holds, and a target can hold on test without having been certified. It assumes
calibration and test images are drawn alike: true of the two random halves of the test set,
not guaranteed for the validation split, a random part of the training file. FLOPs budgets:
{glue:md}`op_budgets`, with no guarantee."""),
    ("code", '''# NBVAL_CHECK_OUTPUT
for s, c in curves.items():
    orc = c[c.selector == "oracle (bound)"]
    for (sel, e), g in c[~c.selector.isin(["oracle (bound)", S.PAPER_SEMANTIC])].groupby(["selector", "exit"]):
        o = orc[orc.exit == e]
        assert (g.accuracy.to_numpy() <= np.interp(g.specificity, o.specificity, o.accuracy) + 1e-9).all()
assert summary.auc.between(0, 1).all()
print("selectors:", sorted(curves[gran_seeds[0]].selector.unique()), "| oracle bounds Gran-HBN's selectors:", True)'''),
])

# --- methods: how the standard profile's schedule was chosen (issue 8) ---------------------------

write("schedule.ipynb", [
    ("md", "# Choosing the `standard` schedule, on validation data\n\n"
           "The paper trains with Adam at a constant learning rate of 1.5e-4 for 120 epochs "
           "{cite:p}`sanati_granular`: about 3 hours per model on the 2-core CPU this study was "
           "built on. The `standard` profile keeps the paper's data, batch size, loss, loss "
           "weights and weight decay, and departs from it in one place: the schedule, Adam with "
           "a linear warm-up to a higher peak learning rate and cosine decay to zero. Its length "
           "is the fewest epochs whose final **validation** fine accuracy at every exit is within "
           "a tolerance of a longer schedule's. The test set plays no part in the choice. The "
           "paper's optimiser, on the same data, is drawn beside it."),
    ("params", params_source(BASE + [
        ("schedules", "{}", "label: RunConfig overrides of one Gran-HBN run each"),
        ("candidates", "[]", "labels of the schedules that differ only in length"),
        ("tolerance", "0.005", "validation fine accuracy a shorter schedule may lose, 0.5 points")])),
    ("show", LOAD),
    ("code", '''from hbn import convergence as C
curves = C.curves(out_dir, dataset, profile, schedules)
glue_figure("fig-schedule", C.plot(curves, f"Validation accuracy per epoch, Gran-HBN seed 0 — {caption}",
                                   save_to=figures))
finals = C.finals(curves)
table(finals, f"Validation accuracy after the last logged epoch of each schedule — {caption}",
      "tbl-schedule", percent=[c for c in finals.columns if "exit" in c],
      note="complete: the run reached its planned number of epochs (a constant-lr run may be "
      "stopped early: its first epochs do not depend on its planned length).")'''),
    figure("fig-schedule", "Validation accuracy per epoch of Gran-HBN under each schedule: fine "
           "heads (left), coarse heads (right), one line style per exit. {glue:md}`caption`."),
    ("hidden", '''choice = C.fewest_epochs(curves, candidates, tolerance)
worst = {label: max(g.values()) for label, g in choice["gaps"].items()}
glue("schedule_choice", Markdown(
    f"The shortest schedule within {100 * tolerance:.1f} points of the longest "
    f"({choice['longest']}) at every exit is **{choice['chosen']}** ({choice['epochs']} epochs); "
    "the largest validation fine-accuracy gap to the longest schedule, per candidate: "
    + "; ".join(f"{label}: {100 * w:+.2f} points" for label, w in worst.items()) + "."))
paper = [s for s in schedules if schedules[s].get("schedule") == "constant"]
if paper:
    p = finals.set_index("schedule").loc[paper[0]]
    c = finals.set_index("schedule").loc[choice["chosen"]]
    glue("schedule_paper", Markdown(
        f"The paper's optimiser ({paper[0]}) reached {100 * p['fine exit 3']:.2f} % fine at exit 3 "
        f"after {int(p['epochs run'])} epochs, against {100 * c['fine exit 3']:.2f} % for the chosen "
        f"schedule after {int(c['epochs run'])}."))
else:
    glue("schedule_paper", Markdown("The paper's optimiser was not run on these data."))'''),
    ("md", "## What this shows\n\n{glue:md}`schedule_choice` {glue:md}`schedule_paper`"),
    ("code", '''# NBVAL_CHECK_OUTPUT
assert set(candidates) <= set(curves.schedule) and choice["chosen"] in candidates
print("schedules:", sorted(curves.schedule.unique()), "| chosen:", choice["chosen"])'''),
])


print("notebooks written to", OUT)
