"""The reproducibility report: the ML Reproducibility Challenge's summary and the NeurIPS / ICML /
ACL checklist items, answered for a loaded study from its runs (logs, meta, test and validation
records) and its models. Every number the summary states is a `Fact` that names the table
showing it; `checklist` answers every item with a status and a link to where the book shows it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import MODEL_GRANULARITY_WEIGHTS
from .data import CIFAR100_URL, SPLIT_SEED
from .evaluate import accuracy_table
from .models import MODEL_TITLES, count_parameters
from .records import load_records
from .study import Study, training_cost
from .tables import Table, cell, table

MET, PARTLY, NOT_MET = "met", "partly", "not met"

# What the runs cannot tell about a dataset: where its files come from, what was left out, and
# how images are prepared (DESIGN.md §1; hbn.data, hbn.tinyimagenet, hbn.batching).
_AUGMENT = ("training images only: a random 32×32 crop of the image reflect-padded by 4 pixels, "
            "and a horizontal flip with probability 0.5, per image; validation and test images "
            "are not augmented")
DATA = {
    "fashion-mnist": dict(
        source="the official files of Xiao et al. (2017), installed by the Debian package "
               "`dataset-fashion-mnist` in `/usr/share/datasets/fashion-mnist/` and checked "
               "against their md5 sums",
        download="https://github.com/zalandoresearch/fashion-mnist (or `apt-get install "
                 "dataset-fashion-mnist`); CIFAR-100, the paper's dataset, from " + CIFAR100_URL,
        excluded="none: every image of the 10 classes (the paper's CIFAR-100 could not be "
                 "downloaded on the machines this was built on, so none of it is used)",
        prepare="zero-padded from 28×28 to 32×32 (the CIFAR architectures apply unchanged, 1 "
                "input channel); scaled to [0, 1] and normalised with the training split's "
                "own mean and standard deviation; " + _AUGMENT),
    "tiny-imagenet-100": dict(
        source="on these machines `tiny-imagenet-200-h100.zip` (sha256 608360c9…), the official "
               "images of the 100 classes in the official layout, taken from a public copy of "
               "the official archive",
        download="http://cs231n.stanford.edu/tiny-imagenet-200.zip (the loader takes the "
                 "official zip, its extracted folder or the 100-class subset)",
        excluded="100 of the 200 official classes (those outside the 20 superclasses of 5); the "
                 "official test split (it has no labels); and two classes of the public copy "
                 "that are not official (n02480855, n10148035: appended to `wnids.txt`, their "
                 "validation boxes all identical)",
        prepare="decoded with PIL and made RGB (a few are greyscale); downsampled 64→32 by 2×2 "
                "box averaging (`Image.reduce(2)`); every image checked decodable and 64×64; "
                "normalised with the training split's own mean and standard deviation; " + _AUGMENT),
    "cifar100": dict(
        source="the official python archive `cifar-100-python.tar.gz` (md5 eb9058c3…)",
        download=CIFAR100_URL, excluded="none",
        prepare="normalised with the authors' mean (0.485, 0.456, 0.406) and standard deviation "
                "(0.229, 0.224, 0.225); " + _AUGMENT),
    "synthetic": dict(
        source="generated in memory (hbn.data.load_synthetic): procedural, not real data",
        download="none: generated in memory", excluded="none: every generated image",
        prepare="normalised with the training split's own mean and standard deviation; " + _AUGMENT),
}


@dataclass(frozen=True)
class Fact:
    """One number of the summary, as shown, and the label of the table that shows it."""
    name: str
    value: str
    evidence: str

    @property
    def ref(self) -> str:
        return f"{{numref}}`{self.evidence}`"


def runtime(study: Study) -> pd.DataFrame:
    """Training time per run from its log (hbn.study.training_cost), then a row for all runs."""
    cost = training_cost(study)
    total = {"model": f"all {len(cost)} runs", "seed": pd.NA, "epochs": int(cost["epochs"].sum()),
             "training minutes": cost["training minutes"].sum(),
             "wall minutes": cost["wall minutes"].sum(min_count=len(cost)), "images/s": np.nan}
    out = pd.concat([cost, pd.DataFrame([total])], ignore_index=True)
    return out.astype({"seed": "Int64"})


def model_size(models, flops: dict, params: dict) -> pd.DataFrame:
    """Parameters and cumulative MFLOPs to each exit per model (`flops`: hbn.notebook.model_flops,
    `params`: model -> hbn.models.count_parameters of an untrained copy)."""
    from .models import MODEL_EXITS
    rows = []
    for m in models:
        stages = [i + 1 for i, s in enumerate(MODEL_EXITS[m]) if s is not None]
        mf = dict(zip(stages, flops[m]))
        rows.append({"model": MODEL_TITLES[m], "parameters": params[m],
                     **{f"MFLOPs to exit {e}": mf[e] / 1e6 if e in mf else np.nan for e in (1, 2, 3)}})
    return pd.DataFrame(rows)


def sizes(study: Study, width: float) -> tuple[dict, dict]:
    """(flops, parameters) per model of the study, counted on untrained copies."""
    from .notebook import model_flops, untrained
    models = list(dict.fromkeys(m for m, _ in study.runs))
    return (model_flops(study.dataset, models, width),
            {m: count_parameters(untrained(m, study.dataset, width)) for m in models})


def validation_and_test(study: Study) -> pd.DataFrame:
    """Per run and exit: validation accuracy (records-val.csv.gz, the split training held out)
    beside test accuracy, fine and coarse (NaN where a head or the validation records are missing)."""
    rows = []
    for (model, seed), run in study.runs.items():
        test = accuracy_table(run.records) if run.records is not None else None
        try:
            val = accuracy_table(load_records(run.path, "val"))
        except FileNotFoundError:
            val = None
        for e in (test.index if test is not None else []):
            row = {"model": MODEL_TITLES[model], "seed": seed, "exit": int(e)}
            for g in ("fine", "coarse"):
                row[f"{g}, validation"] = val.loc[e, g] if val is not None else np.nan
                row[f"{g}, test"] = test.loc[e, g]
            rows.append(row)
    return pd.DataFrame(rows)


def dataset_statistics(study: Study) -> pd.DataFrame:
    """Images and classes per split, from the runs (training images from meta.json, validation
    and test images from the records)."""
    run = next(iter(study.runs.values()))
    test = run.arrays["fine_true"]
    try:
        val = load_records(run.path, "val")
        val = val[val["exit"] == val["exit"].min()]["fine_true"].to_numpy()
    except FileNotFoundError:
        val = None
    rows = [{"split": "train", "images": run.meta.get("train_images"), "per class": np.nan}]
    for name, labels in (("validation", val), ("test", test)):
        if labels is None:
            rows.append({"split": name, "images": np.nan, "per class": np.nan})
            continue
        counts = np.bincount(labels)
        span = str(counts.min()) if counts.min() == counts.max() else f"{counts.min()}–{counts.max()}"
        rows.append({"split": name, "images": len(labels), "per class": span})
    return pd.DataFrame(rows)


def evidence_tables(study: Study, width: float, caption: str) -> dict[str, Table]:
    """The report's own numbered tables, by label: runtime, size, validation and test, data."""
    flops, params = sizes(study, width)
    vt = validation_and_test(study)
    out = [table(runtime(study), f"Training time per run, from its log — {caption}",
                 "tbl-report-runtime", decimals=1),
           table(model_size(list(params), flops, params), f"Parameters and MFLOPs to each exit "
                 f"(batch 1, {study.title} input shapes, width {width})", "tbl-report-size", decimals=2),
           table(vt, f"Validation and test accuracy of every run and exit — {caption}",
                 "tbl-report-val-test", percent=[c for c in vt if "," in c]),
           table(dataset_statistics(study), f"Images per split — {study.title}", "tbl-report-data",
                 note="—: not in the records (they hold the validation and test images only).")]
    return {t.name: t for t in out}


def facts(study: Study, width: float) -> dict[str, Fact]:
    """The summary's numbers, computed here (not read from the tables), each with its table."""
    cost = training_cost(study)
    flops, params = sizes(study, width)
    g = next((r for (m, _), r in study.runs.items() if m == "gran-hbn"), next(iter(study.runs.values())))
    return {"runs": Fact("runs", str(len(study.runs)), "tbl-report-runtime"),
         "minutes": Fact("minutes", cell(cost["training minutes"].sum(), 1), "tbl-report-runtime"),
         "least": Fact("least", cell(cost["training minutes"].min(), 1), "tbl-report-runtime"),
         "most": Fact("most", cell(cost["training minutes"].max(), 1), "tbl-report-runtime"),
         "epochs": Fact("epochs", str(g.config.epochs), "tbl-report-runtime"),
         "parameters": Fact("parameters", cell(params.get("gran-hbn", next(iter(params.values())))),
                            "tbl-report-size"),
         "test": Fact("test", cell(len(g.arrays["fine_true"])), "tbl-report-data")}


def _join(values) -> str:
    values = [str(v) for v in dict.fromkeys(values) if v is not None]
    return ", ".join(values) or "not recorded"


def _arithmetic(metas) -> str:
    """The precision the runs trained in; where machines differed, how many runs each, and that
    the seeds' intervals include the difference."""
    counts = pd.Series([m.get("precision", "fp32") for m in metas]).value_counts(sort=False)
    if len(counts) < 2:
        return _join(counts.index)
    return (" and ".join(f"{p} ({n} run{'s' * (n != 1)})" for p, n in counts.items())
            + ", as each machine allowed: the intervals over seeds include that difference")


def summary(study: Study, verdicts, f: dict[str, Fact], results: str, decision_batch: int,
            schedule_page: bool = True, capped: bool = False) -> dict:
    """The six sections of the Reproducibility Summary as MyST Markdown. `verdicts` are the
    claims tested (hbn.claims.assess), `results` their summary (hbn.claims.summary_markdown)."""
    g = next((r for (m, _), r in study.runs.items() if m == "gran-hbn"), next(iter(study.runs.values())))
    cfg, metas = g.config, [r.meta for r in study.runs.values()]
    w_f, w_c = MODEL_GRANULARITY_WEIGHTS["gran-hbn"]
    real = study.dataset != "cifar100"
    claims = "\n".join(f"- {v.claim} ({v.section})" for v in verdicts)
    departs = "; ".join(cfg.departures())
    return {
        "scope": (f"We tested {len(verdicts)} claims of the paper on {study.title}, each "
                  f"against a stated criterion ({{numref}}`tbl-claims`):\n\n{claims}\n"),
        "methodology": (
            "We re-implemented the five models (AlexNet, B-AlexNet, Sem-AlexNet, Gran-HBN, "
            "AG-HBN), the joint loss of eq. (7), AG-HBN's post-training (eqs. 8–11), the exit "
            "rules (eq. 3, Algorithm 1, eq. 12) and every analysis in PyTorch and NumPy, from the "
            "paper and, where it is silent, the authors' public code; none of their code runs "
            f"here ({{doc}}`methods`). Data: {study.title}, {DATA[study.dataset]['source']}. "
            + (f"Training departs from the paper's Table I: {departs}. " if departs else "")
            + f"Gran-HBN has {f['parameters'].value} parameters ({f['parameters'].ref}). Compute: "
            f"{f['runs'].value} training runs of {f['epochs'].value} epochs took "
            f"{f['minutes'].value} minutes of training in all, {f['least'].value} to "
            f"{f['most'].value} per run ({f['runs'].ref}), on {_join(m.get('device') for m in metas)} "
            f"with {_threads(study)} thread(s), in {_arithmetic(metas)}; no GPU was used."),
        "results": results,
        "easy": (
            "The architectures and the loss: the authors' code gives every layer, and our "
            "per-exit FLOPs on CIFAR-100 shapes are the authors' counts ({numref}`tbl-flops-authors`). "
            "The analyses: every results page reads one deterministic pass of each run over the "
            f"{f['test'].value} test images ({f['test'].ref}), and one over the validation "
            "images, and never "
            "re-runs a network, so a page re-executes in seconds."),
        "difficult": (
            (f"CIFAR-100 could not be downloaded where this was built, so every number here is "
             f"on {study.title}, whose hierarchy is not the paper's. " if real else "")
            + f"Compute: on a CPU the paper's 120 epochs did not fit, so each run trained for "
            f"{f['epochs'].value} epochs; "
            + ("the schedule was chosen on validation data and its length capped by the time "
               "a run may take, so more epochs would still improve every run ({doc}`schedule`). "
               if capped else
               "the schedule that makes that enough was chosen on validation data "
               "({doc}`schedule`). " if schedule_page else
               "that length was set by hand for this profile, not chosen on validation data. ")
            + f"The paper does not say that its exit rules "
            f"decide once per batch of {decision_batch} test images from mean entropies: only "
            "the authors' code does, and Table II's operating regions depend on it."),
        "communication": (
            "There was none: we did not contact the authors. Their public code answered what "
            "the paper leaves open: the layer specifications of the trunk and of every exit "
            f"head; the granularity weights w_f = {w_f:g} and w_c = {w_c:g} of Gran-HBN (Table "
            "I's \"w_f = 1.5\"); and the batch-mean routing, one decision per batch of "
            f"{decision_batch} test images. It also showed defects we did not copy: test images "
            "augmented with the random training transform, a Kaiming initialisation call that "
            "did nothing, and a condition e_c < e_f − τ before a coarse exit that Algorithm 1 "
            "does not have ({doc}`methods`, *Decisions we took*)."),
    }


def checklist(study: Study, f: dict[str, Fact], choice: dict | None, schedules: dict,
              machine: dict) -> pd.DataFrame:
    """One row per checklist item: the item, who asks it, the answer for this study (MyST), its
    status (MET, PARTLY, NOT_MET) and where the book shows it. `choice` is
    hbn.convergence.fewest_epochs on the schedule runs (None: no schedule was chosen on
    validation), `machine` the executing machine (hbn.notebook.machine)."""
    metas = [r.meta for r in study.runs.values()]
    data = DATA[study.dataset]
    nv = len(without_validation(study))
    seeds = {m: study.seeds(m) for m in dict.fromkeys(m for m, _ in study.runs)}
    many = [m for m, s in seeds.items() if len(s) > 1]
    extra = [label for label, o in schedules.items() if o]
    stats = dataset_statistics(study).set_index("split")["images"]
    rows = [
        ("Computing infrastructure", "NeurIPS, ICML, ACL",
         f"Training: {_join(m.get('device') for m in metas)}, "
         f"{_threads(study)} thread(s) per run, {_join(m.get('precision') for m in metas)}, "
         f"torch {_join(m.get('torch') for m in metas)}; GPU: none. Pages executed on "
         f"{machine['cpu']} ({machine['cores']} cores), GPU {machine['gpu']}.",
         MET, "{numref}`tbl-report-runtime`; {numref}`tbl-facts`"),
        ("Runtime of each model", "NeurIPS, ICML, ACL",
         f"Training: {f['least'].value} to {f['most'].value} minutes per run, "
         f"{f['minutes'].value} minutes in all, the sum of the epochs' times in each run's log. "
         "Inference: batch-1 latency per exit, measured on this page's machine.",
         MET, "{numref}`tbl-report-runtime`; {numref}`tbl-latency`"),
        ("Number of parameters", "NeurIPS, ICML, ACL",
         f"Counted on the model objects, with FLOPs per exit: Gran-HBN {f['parameters'].value}.",
         MET, "{numref}`tbl-report-size`; {numref}`tbl-models`"),
        ("Validation performance for each test result", "NeurIPS, ICML, ACL",
         ("Validation accuracy beside test accuracy for every run, exit and head, from the "
          "validation records." if not nv else
          f"{nv} of {len(study.runs)} runs have no validation records."),
         MET if not nv else PARTLY, "{numref}`tbl-report-val-test`"),
        ("Number of training and evaluation runs", "NeurIPS, ICML, ACL",
         f"{len(study.runs)} training runs in the study ("
         + "; ".join(f"{MODEL_TITLES[m]} seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"
                     for m, s in seeds.items())
         + (f"), plus {len(extra)} for the schedule choice ({', '.join(extra)})" if extra else ")")
         + ". Each run is evaluated once on the test split and once on the validation split "
         "(deterministic, no augmentation); every analysis reads those records.",
         MET, "{numref}`tbl-report-runtime`; {doc}`02-evaluate`"),
        ("Hyperparameter bounds", "NeurIPS, ICML",
         (f"Only the schedule was searched, over {len(schedules)} Gran-HBN runs: "
          + "; ".join(f"*{s}*" for s in schedules) + ". Every other hyperparameter is the "
          "paper's Table I value, not searched, so it has no bounds." if choice else
          "Not searched: the profile's length was set by hand, the rest is the paper's Table I."),
         PARTLY if choice else NOT_MET, "{doc}`schedule`; {numref}`tbl-table1`" if choice
         else "{numref}`tbl-table1`"),
        ("How hyperparameters were chosen, and the criterion", "NeurIPS, ICML, ACL",
         (f"Criterion: the fewest epochs whose final validation fine accuracy at every exit is "
          f"within {100 * choice['tolerance']:.1f} points of the longest schedule's"
          + (f", capped by the time a run may take at {choice['max_epochs']} epochs. Validation "
             f"alone chose *{choice['validation_choice']}*; trained: *{choice['chosen']}*, "
             f"{choice['epochs']} epochs, up to "
             f"{100 * max(choice['gaps'][choice['chosen']].values()):.2f} points below the longest."
             if choice["capped"] else
             f". Chosen: *{choice['chosen']}*, {choice['epochs']} epochs.")
          + " The test set plays no part." if choice else
          "Not chosen on data: this profile's length was set by hand to fit the machine."),
         (PARTLY if choice["capped"] else MET) if choice else NOT_MET, "{numref}`tbl-schedule`" if choice else "{numref}`tbl-facts`"),
        ("Summary statistics with error bars", "NeurIPS, ICML, ACL",
         (f"95 % Student-t intervals over seeds for {', '.join(MODEL_TITLES[m] for m in many)} "
          f"({', '.join(str(len(seeds[m])) for m in many)} seeds)"
          + ("." if len(many) == len(seeds) else
             "; the other models have one seed each, so comparisons between models carry no "
             "error bars.") if many else "One seed per model: no error bars."),
         MET if many and len(many) == len(seeds) else PARTLY if many else NOT_MET,
         "{numref}`tbl-seeds-accuracy`; {numref}`tbl-seeds-regions`"),
        ("Dataset statistics", "NeurIPS, ACL",
         f"{study.title}: {_n(stats.get('train'))} training, {_n(stats.get('validation'))} "
         f"validation and {f['test'].value} test images; the class hierarchy.",
         MET, "{numref}`tbl-report-data`; {numref}`tbl-hierarchy`"),
        ("Splits", "NeurIPS, ACL",
         "The training file split at random once (seed " + str(SPLIT_SEED) + ", the same for "
         "every model and seed) into train and validation; test = " +
         ("the official validation images" if study.dataset == "tiny-imagenet-100"
          else "the official test split") + ".", MET, "{numref}`tbl-report-data`"),
        ("Excluded data", "NeurIPS, ACL", data["excluded"][0].upper() + data["excluded"][1:] + ".",
         MET, "{numref}`tbl-hierarchy`; [design notes §1](../../docs/design.md#1-data-and-hierarchy)"),
        ("Every pre-processing step", "NeurIPS, ACL", data["prepare"][0].upper() + data["prepare"][1:] + ".",
         MET, "{doc}`methods`; [design notes §1](../../docs/design.md#1-data-and-hierarchy)"),
        ("Where to download the data", "NeurIPS, ACL", data["download"] + ".",
         MET, "{numref}`tbl-facts`"),
    ]
    return pd.DataFrame(rows, columns=["item", "asked by", "answer", "status", "where"])


def without_validation(study: Study) -> list[tuple[str, int]]:
    """The runs with no validation records (evaluated before they existed)."""
    from .records import records_file
    return [k for k, r in study.runs.items() if not (r.path / records_file("val")).exists()]


def _threads(study: Study) -> str:
    """The CPU threads the runs trained with, resumptions included: '1' or '1–2'."""
    t = {r.meta.get("threads") for r in study.runs.values()}
    t |= {x.get("threads") for r in study.runs.values() for x in r.meta.get("resumed", [])}
    t = sorted(x for x in t if isinstance(x, int))
    return "not recorded" if not t else str(t[0]) if t[0] == t[-1] else f"{t[0]}–{t[-1]}"


def _n(v) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else cell(int(v))


def unanswered(rows: pd.DataFrame) -> list[str]:
    """Checklist items without an answer, a known status or a link: the page fails on any."""
    bad = rows[(rows["answer"].str.strip() == "") | ~rows["status"].isin([MET, PARTLY, NOT_MET])
               | ~rows["where"].str.contains(r"\{numref\}|\{doc\}|\]\(")]
    return bad["item"].tolist()


def absent(f: dict[str, Fact], tables: dict[str, Table]) -> list[str]:
    """Facts whose value is not a number shown in the table they cite (`tables` by label)."""
    import re
    return [k for k, x in f.items() if x.evidence not in tables or not re.search(
        rf"(?<![\d.,]){re.escape(x.value)}(?![\d,]|\.\d)", tables[x.evidence].markdown())]
