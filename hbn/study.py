"""The study as the notebooks see it: every run's config and exit records, titles that name the
dataset and profile, and the authors' reported CIFAR-100 numbers (DESIGN.md §5) to set beside ours.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import runs
from .config import AG_ONLY_FIELDS, MODELS, RunConfig, make_config
from .data import TITLES as DATASET_TITLES
from .models import MODEL_TITLES
from .records import as_arrays, check_identity, load_records

# Authors' CIFAR-100 test accuracy (%), each model forced to exit at a branch (DESIGN.md §5).
AUTHORS_FORCED = pd.DataFrame([
    ("AlexNet", "fine", np.nan, np.nan, 48.71),
    ("B-AlexNet", "fine", 51.43, 53.03, 51.24),
    ("Sem-AlexNet", "coarse, coarse, fine", 64.59, 65.92, 51.43),
    ("Gran-HBN", "specificity 0 (all coarse)", 64.0, 66.7, 65.3),
    ("Gran-HBN", "specificity 1 (all fine)", 51.9, 53.8, 51.7),
    ("AG-HBN", "specificity ≈ 0.75", 54.87, 55.78, 53.91),
], columns=["model", "answer", "branch 1", "branch 2", "branch 3"])
# Gran-HBN's rows are read off the authors' figures, not printed in the paper (DESIGN.md §5: "≈").
AUTHORS_APPROXIMATE = {"specificity 0 (all coarse)", "specificity 1 (all fine)"}


def authors_forced_shown() -> pd.DataFrame:
    """`AUTHORS_FORCED` as the book prints it: values read off a figure keep their "≈" and the
    one decimal they were read to; printed values keep their two."""
    out = AUTHORS_FORCED.astype(object)
    approx = out["answer"].isin(AUTHORS_APPROXIMATE)
    for col in ("branch 1", "branch 2", "branch 3"):
        out[col] = [np.nan if pd.isna(v) else f"≈{v:.1f}" if a else f"{v:.2f}"
                    for v, a in zip(out[col], approx)]
    return out


def authors_text(model: str) -> str:
    """The authors' CIFAR-100 test accuracy of `model` forced to each branch (their 120 epochs,
    `AUTHORS_FORCED` as the book prints it), as a clause: "fine: 51.43 % at exit 1, ..."."""
    shown = authors_forced_shown()
    parts = []
    for _, r in shown[shown["model"] == MODEL_TITLES[model]].iterrows():
        vals = [f"{r[f'branch {e}']} % at exit {e}" for e in (1, 2, 3)
                if isinstance(r[f"branch {e}"], str)]
        parts.append(f"{r['answer']}: {', '.join(vals)}")
    return "; ".join(parts)


# Authors' Gran-HBN branch-1 test accuracy (%) along their Fig. 3 τ grid, where δ is strictly
# between 0 and 1 (DESIGN.md §5; batch-mean decisions over 512 images): δ -> accuracy.
AUTHORS_BRANCH1_ACCURACY = {0.15: 61.86, 0.50: 58.07, 0.75: 54.83}


# Authors' operating regions of τ (paper Table II; batch-mean decisions, batch 512): from the
# last τ with specificity 0 to the first with specificity 1 (hbn.analysis.operating_region).
AUTHORS_REGIONS = pd.DataFrame({"branch": [1, 2, 3], "start": [0.46, 0.50, 0.42],
                                "end": [0.54, 0.62, 0.54], "size": [0.08, 0.12, 0.12]})


def _authors_fig3() -> pd.DataFrame:
    """Authors' Fig. 3 specificity per branch on their τ grid arange(0, 1, 0.02) (DESIGN.md §5):
    0 up to the listed run of values, then the run, then 1 to the end of the grid."""
    tau = np.round(np.arange(0.0, 1.0, 0.02), 2)
    runs_ = {1: (0.48, [0.15, 0.50, 0.75]), 2: (0.52, [0.05, 0.15, 0.25, 0.75, 0.90]),
             3: (0.44, [0.10, 0.25, 0.55, 0.75, 0.95])}
    parts = []
    for branch, (first, values) in runs_.items():
        i = int(np.flatnonzero(tau == first)[0])
        spec = np.r_[np.zeros(i), values, np.ones(len(tau) - i - len(values))]
        parts.append(pd.DataFrame({"branch": branch, "tau": tau, "specificity": spec}))
    return pd.concat(parts, ignore_index=True)


AUTHORS_FIG3 = _authors_fig3()  # CIFAR-100, forced exits, batch-mean decisions over 512 images


@dataclass
class Run:
    config: RunConfig
    path: Path
    records: pd.DataFrame
    arrays: dict
    metrics: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)


@dataclass
class Study:
    dataset: str
    profile: str
    runs: dict  # (model, seed) -> Run

    def run(self, model: str, seed: int = 0) -> Run:
        if (model, seed) not in self.runs:
            raise KeyError(f"no run of {model} seed {seed}; train it with the train notebook or "
                           f"`python -m hbn train --model {model} --seed {seed}`")
        return self.runs[(model, seed)]

    @property
    def title(self) -> str:
        return DATASET_TITLES.get(self.dataset, self.dataset)

    def caption(self) -> str:
        """'<dataset> · <profile> profile[, NOT THE PAPER'S PROTOCOL: <departures>]' for every
        figure and table (`RunConfig.departures`: fewer epochs, a subset, another schedule...)."""
        cfg = self._first().config
        departs = cfg.departures() if cfg.shortened else []
        short = f", NOT THE PAPER'S PROTOCOL: {'; '.join(departs)}" if departs else ""
        return f"{self.title} · {self.profile} profile{short}"

    def _first(self) -> Run:
        if not self.runs:
            raise ValueError(f"the {self.profile} study on {self.dataset} holds no runs; load it "
                             f"with at least one model")
        return next(iter(self.runs.values()))

    def seeds(self, model: str) -> list[int]:
        return sorted(s for m, s in self.runs if m == model)

    def validation(self, model: str = "gran-hbn") -> tuple[dict, list[Path]]:
        """({seed: validation-records arrays}, [run folders without them]) over the seeds of
        `model`; read once per study. A corrupt file (RecordsError) stops the caller, naming the
        fix; a missing one is listed (`python -m hbn evaluate <run dir>` writes it)."""
        cache = self.__dict__.setdefault("_validation", {})
        if model not in cache:
            val, missing = {}, []
            for seed in self.seeds(model):
                run = self.run(model, seed)
                try:
                    val[seed] = as_arrays(load_records(run.path, split="val"))
                except FileNotFoundError:
                    missing.append(run.path)
            cache[model] = (val, missing)
        return cache[model]


def wanted_runs(models, seeds=(0,), model_seeds=(0,)) -> list[tuple[str, int]]:
    """The (model, seed) runs of a study: every model at each of `model_seeds`, Gran-HBN also
    at its `seeds` (more seeds of the model every analysis reads)."""
    pairs = [(m, s) for s in model_seeds for m in models]
    return pairs + [("gran-hbn", s) for s in seeds if ("gran-hbn", s) not in pairs]


def load_study(out_dir: str, dataset: str, profile: str, models, seeds=(0,),
               overrides: dict | None = None, model_seeds=(0,)) -> Study:
    """Load every finished run (records included) of `models` (at `model_seeds`, by default
    seed 0) and Gran-HBN `seeds` (`wanted_runs`).

    `overrides` (RunConfig fields) select a variant of the profile, as `python -m hbn book --set`
    trains it. Runs that differ in anything but model and seed are refused: one study, one protocol.
    Each records file is checked on reading (hbn.records.load_records) and against the weights
    and configuration it came from, where records.json and model.pt are there to compare.
    """
    if isinstance(models, str) or not list(models):
        raise ValueError(f"models must name at least one of {', '.join(MODELS)} (got {models!r})")
    found = {}
    for model, seed in wanted_runs(models, seeds, model_seeds):
        cfg = make_config(profile, **{**(overrides or {}), "model": model, "dataset": dataset,
                                      "seed": seed, "out_dir": out_dir})
        path = runs.run_dir(cfg)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no run of {model} seed {seed} in {path}; train it with "
                                    f"`{runs.train_command(cfg, resume=False)}`")
        df = load_records(path)
        check_identity(path)
        found[(model, seed)] = Run(runs.load_config(path), path, df, as_arrays(df),
                                   runs.read_metrics(path), runs.read_meta(path))
    check_one_protocol(found)
    return Study(dataset, profile, found)


# Fields allowed to differ between the runs of one study (AG-HBN's post-training settings
# concern one model only and change nothing in the others).
_PER_RUN_FIELDS = {"model", "seed", "out_dir", "data_dir", "device", *AG_ONLY_FIELDS}


def check_one_protocol(found: dict) -> None:
    """Raise when the runs of a study were trained under different settings (seed aside)."""
    items = list(found.items())
    (m0, s0), ref = items[0][0], items[0][1].config.to_dict()
    for (model, seed), run in items[1:]:
        mine = run.config.to_dict()
        diff = sorted(k for k in ref if k not in _PER_RUN_FIELDS and ref[k] != mine.get(k))
        if diff:
            raise ValueError(
                f"runs of different configurations in one study: {model} seed {seed} "
                f"({run.path}) differs from {m0} seed {s0} in {', '.join(diff)} "
                f"({', '.join(f'{k}={mine.get(k)!r} vs {ref[k]!r}' for k in diff)}); "
                f"retrain one of them so that all share the same settings")


RUNNER_ENV = "HBN_BOOK_RUNNER"  # set by `python -m hbn book` for the pages it executes


def figure_dir(study: Study) -> Path:
    """Figures go to `figures/` in the folder the page executes in: book/<profile>/figures for
    the book's pages (written only by `python -m hbn book`), book/variants/<name>/figures for a
    variant, the folder papermill runs it in (`--cwd`) for a page run by hand. A page run by hand
    in a folder whose figures are committed is refused before it draws anything: a re-execution
    with other parameters never overwrites a committed figure."""
    path = Path.cwd() / "figures"
    if not os.environ.get(RUNNER_ENV) and _tracked(path):
        raise ValueError(f"this page runs in {Path.cwd()}, whose figures/ are committed and written "
                         f"only by `python -m hbn book`; nothing was written. Run it in a folder "
                         f"of your own (papermill's `--cwd /tmp/my-run`), where its figures will go")
    path.mkdir(exist_ok=True)
    return path


def _tracked(path: Path) -> bool:
    """True when git tracks a file under `path` (False outside a git work tree)."""
    import subprocess
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=path, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no such folder yet, or no git
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def forced_comparison(study: Study, percent: bool = True) -> pd.DataFrame:
    """Our counterpart of `AUTHORS_FORCED`: test accuracy of each model forced to each branch.

    AG-HBN is routed per image (the paper tested it at batch size 1); its specificity is given.
    """
    from . import analysis as A
    from . import routing as R
    k = 100.0 if percent else 1.0
    rows = []

    def add(model, answer, accs, spec=np.nan):
        cols = {f"branch {e}": np.nan for e in (1, 2, 3)}
        cols.update({f"branch {e}": k * v for e, v in accs.items()})
        rows.append({"model": model, "answer": answer, **cols, "specificity": spec})

    def forced_acc(run, fine_by_exit):
        a = run.arrays
        n = len(a["fine_true"])
        return {int(e): A.score(a, *R.forced(n, b, fine_by_exit[b]))["accuracy"]
                for b, e in enumerate(a["exits"])}

    for model, answer, fine in (("alexnet", "fine", [True]),
                                ("b-alexnet", "fine", [True] * 3),
                                ("sem-alexnet", "coarse, coarse, fine", [False, False, True])):
        if (model, 0) in study.runs:
            add(MODEL_TITLES[model], answer, forced_acc(study.run(model), fine))
    if ("gran-hbn", 0) in study.runs:
        g = study.run("gran-hbn")
        add("Gran-HBN", "specificity 0 (all coarse)", forced_acc(g, [False] * 3), 0.0)
        add("Gran-HBN", "specificity 1 (all fine)", forced_acc(g, [True] * 3), 1.0)
    if ("ag-hbn", 0) in study.runs:
        a = study.run("ag-hbn").arrays
        fine = R.ag_hbn_forced(a["sem_prob_fine"], mode="sample")
        add("AG-HBN", "semantic exit, per image", forced_acc(study.run("ag-hbn"), [fine] * 3),
            float(fine.mean()))
    return pd.DataFrame(rows)


def hyperparameters(study: Study) -> pd.DataFrame:
    """Table I as actually used: one column per model, from the runs' stored configs."""
    cols = {}
    for (model, seed), run in study.runs.items():
        if seed:
            continue
        c = run.config
        w_f, w_c = c.granularity_weights
        cols[MODEL_TITLES[model]] = {
            "η (lr)": c.lr, "λ (weight decay)": c.weight_decay, "batch size": c.batch_size,
            "w_n": list(c.exit_weights) if model != "alexnet" else "N/A",
            "w_g (fine, coarse)": (w_f, w_c) if model in ("gran-hbn", "ag-hbn", "sem-alexnet") else "N/A",
            "epochs (joint + post)": (f"{c.epochs - c.post_epochs} + {c.post_epochs}"
                                      if model == "ag-hbn" else str(c.epochs)),
            "post-training lr, α, w_f (eqs. 10-11)": ((c.post_lr, c.sem_alpha, c.sem_fine_weight)
                                                       if model == "ag-hbn" else "N/A"),
            "training images": run.meta.get("train_images"), "width": c.width}
    return pd.DataFrame(cols)


def training_cost(study: Study) -> pd.DataFrame:
    """Per run, from its log and meta.json: epochs, training minutes (the sum of the epochs'
    training time: validation and evaluation passes are not included), images/s over the whole
    run (images trained / seconds), wall minutes (the sum of the epochs' wall time, from one
    epoch's log line to the next: training, validation, checkpoint writes; NaN where a log
    predates `epoch_wall_s`; a resumed run's pause is in no epoch), and where and how it ran.
    A run forked from another's joint-training checkpoint (AG-HBN post-training variants)
    counts only its own epochs."""
    rows = []
    for (model, seed), run in study.runs.items():
        forked = run.meta.get("forked_at_epoch", 0)
        ep = [m for m in run.metrics if "train_s" in m and m.get("epoch", 0) > forked]
        seconds = sum(m["train_s"] for m in ep)
        images = sum(m["train_s"] * m["img_per_s"] for m in ep)
        walls = [m.get("epoch_wall_s") for m in ep]
        wall = sum(walls) / 60 if ep and None not in walls else np.nan
        rows.append({"model": MODEL_TITLES[model], "seed": seed, "epochs": len(ep),
                     "training minutes": seconds / 60, "wall minutes": wall,
                     "images/s": images / seconds if seconds else np.nan,
                     "precision": run.meta.get("precision", "fp32"), "device": run.meta.get("device", "?"),
                     "threads": _threads(run.meta),
                     "note": "; ".join(_notes(run.meta, forked))})
    return pd.DataFrame(rows)


def _threads(meta: dict):
    """The run's CPU threads, or how they changed where it was resumed ('1, 2 after epoch 9')."""
    threads = meta.get("threads")
    changes = []
    for r in meta.get("resumed", []):
        if r.get("threads") not in (None, threads):
            threads = r["threads"]
            changes.append(f"{threads} after epoch {r.get('at_epoch', '?')}")
    return ", ".join([str(meta.get("threads"))] + changes) if changes else meta.get("threads")


def _notes(meta: dict, forked: int) -> list[str]:
    notes = [f"forked at epoch {forked}"] if forked else []
    at = [str(r.get("at_epoch", "?")) for r in meta.get("resumed", [])]
    notes += [f"resumed after epoch {', '.join(at)}"] if at else []
    for r in meta.get("resumed", []):  # resumed on another machine: another CPU, or precision
        moved = [r[k] for k in ("device", "precision") if r.get(k) not in (None, meta.get(k))]
        if moved:
            notes.append(f"from epoch {r.get('at_epoch', 0) + 1} on {', '.join(moved)}")
    return notes
