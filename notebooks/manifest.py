"""Which notebook runs with which parameters: the single list the book runner feeds papermill,
and the parts of the book the executed pages go in.

`entries(profile, dataset)` returns, in execution order, (source notebook, executed copy's
name, parameters). Parameter names are `hbn.config.RunConfig` fields (plus `models`/`seeds`
for the notebooks that read several runs); a notebook's other parameters keep the defaults
its parameters cell declares. `PARTS` orders the executed pages into the book's parts.
"""
from __future__ import annotations

from hbn.config import PROFILES

MODELS = ["alexnet", "b-alexnet", "sem-alexnet", "gran-hbn", "ag-hbn"]
EXTRA_SEEDS = {"smoke": [1], "quick": [1, 2], "standard": [1, 2, 3, 4], "paper": [1, 2],
               "tiny": [1, 2]}  # extra Gran-HBN seeds, for intervals
# Seeds trained for every model (an interval for every comparison between models).
MODEL_SEEDS = {"tiny": [0, 1, 2],
               "standard": [0, 1, 2]}
# AG-HBN's post-training ablation (one factor at a time, forked from one seed's joint phase),
# per profile: the ablation page's parameters. `pending`: factors still training.
ABLATIONS = {"standard": dict(
    models=["ag-hbn"], seeds=[1], model_seeds=[1], target_delta=0.75,
    variants={"the authors' post-training learning rate 0.00001": {"post_lr": 1e-5},
              "the paper's 20 post-training epochs": {"post_epochs": 20, "epochs": 37}},
    pending=[])}
# The other datasets' studies whose verdicts the Findings page's claims table sets beside its own.
CLAIMS_ALSO = {"standard": {"tiny-imagenet-100": "tiny"}, "tiny": {"fashion-mnist": "standard"}}
# Accuracy targets of the operating-point page, per dataset and, where training length moves
# the accuracies, per profile: each set lies between the all-fine and all-coarse accuracies of
# that training (a target out of reach is reported as not certified). And its FLOPs budgets.
TARGETS = {"synthetic": [0.9, 0.95, 0.98],
           "fashion-mnist": {"quick": [0.8, 0.84, 0.85, 0.86], None: [0.92, 0.93, 0.94, 0.95]},
           "cifar100": [0.5, 0.55, 0.6, 0.65],
           "tiny-imagenet-100": [0.48, 0.5, 0.52, 0.55]}
OPERATING = dict(confidence=0.95, flops_budgets=[0.3, 0.5, 0.7])
# The runs whose validation curves chose a profile's schedule (Gran-HBN seed 0 each; overrides
# of the profile), read by the schedule page.
SCHEDULES = {"standard": dict(
    schedules={"cosine, 20 epochs (standard)": {},
               "cosine, 12 epochs": {"epochs": 12},
               "paper: constant Adam 1.5e-4": {"schedule": "constant", "lr": 1.5e-4,
                                               "warmup_epochs": 0}},
    candidates=["cosine, 12 epochs", "cosine, 20 epochs (standard)"], tolerance=0.005),
    # Tiny ImageNet 100/20 (issue 18): the profile's 30 epochs, capped by the time a run may take,
    # against a run 1.5x as long, and the paper's optimiser at 30 epochs.
    "tiny": dict(
    schedules={"cosine, 30 epochs (tiny)": {},
               "cosine, 45 epochs": {"epochs": 45},
               "paper: constant Adam 1.5e-4, 30 epochs": {"schedule": "constant", "lr": 1.5e-4,
                                                          "warmup_epochs": 0}},
    candidates=["cosine, 30 epochs (tiny)", "cosine, 45 epochs"], tolerance=0.005,
    max_epochs=PROFILES["tiny"]["epochs"],  # the budget is the profile's length
    sized_by=("the length is capped by the time a run may take: an hour alone on the 2-core "
              "machines this study trains on, where no run folder outlives a working session"))}

# The book's parts in reading order: (caption, executed page names; a trailing "*" matches a
# prefix). The first part, without caption, holds the root page. Pages that are not notebooks
# (docs/) are named by their path from the repository root.
PARTS = [
    (None, ["index"]),
    ("Reproducibility", ["report"]),
    ("Findings", ["findings"]),
    ("The paper's results", ["03-tau-sweep", "04-comparison", "05-entropy"]),
    ("Beyond the paper", ["06-beyond-the-paper", "07-operating-point", "ablation"]),
    ("Methods", ["methods", "schedule"]),
    ("Appendix", ["02-evaluate", "01-train-*", "docs/design", "docs/references"]),
]


def study_runs(profile: str, models=None, seeds=None) -> list[tuple[str, int]]:
    """The (model, seed) runs of a profile's study: every model at each of its MODEL_SEEDS
    (default: seed 0), Gran-HBN also at the extra seeds; `seeds` replaces both lists."""
    models = list(models or MODELS)
    if seeds is not None:
        return [(m, s) for s in seeds for m in models]
    pairs = [(m, s) for s in MODEL_SEEDS.get(profile, [0]) for m in models]
    return pairs + [("gran-hbn", s) for s in EXTRA_SEEDS.get(profile, [1, 2])
                    if "gran-hbn" in models and ("gran-hbn", s) not in pairs]


def targets(dataset: str, profile: str) -> list[float]:
    t = TARGETS.get(dataset, [0.8, 0.9, 0.95])
    return t.get(profile, t[None]) if isinstance(t, dict) else t


def entries(profile: str, dataset: str, out_dir: str, data_dir: str, models=None, seeds=None):
    """`models` / `seeds` (Gran-HBN seeds; seed 0 for every model) default to the study's."""
    common = dict(dataset=dataset, profile=profile, out_dir=out_dir, data_dir=data_dir)
    models = list(models or MODELS)
    seeds = list(seeds if seeds is not None else [0, *EXTRA_SEEDS.get(profile, [1, 2])])
    runs = [(m, 0) for m in models] + [("gran-hbn", s) for s in seeds if s]
    out = []
    for model, seed in runs:
        out.append(("train.md", f"01-train-{model}-s{seed}.ipynb",
                    dict(common, model=model, seed=seed)))
    analysis = dict(common, models=models, seeds=seeds)
    out += [
        ("evaluate.md", "02-evaluate.ipynb", analysis),
        ("tau_sweep.md", "03-tau-sweep.ipynb", analysis),
        ("comparison.md", "04-comparison.ipynb", analysis),
        ("entropy.md", "05-entropy.ipynb", analysis),
        ("beyond.md", "06-beyond-the-paper.ipynb", analysis),
        ("operating_point.md", "07-operating-point.ipynb",
         dict(analysis, targets=targets(dataset, profile), **OPERATING)),
        ("methods.md", "methods.ipynb", analysis),
        ("findings.md", "findings.ipynb",
         dict(analysis, model_seeds=MODEL_SEEDS.get(profile, [0]),
              targets=targets(dataset, profile), confidence=OPERATING["confidence"],
              claims_also=CLAIMS_ALSO.get(profile, {}),
              **({"ablation": {k: ABLATIONS[profile][k] for k in ("variants", "target_delta",
                                                                  "model_seeds")}}
                 if profile in ABLATIONS else {}))),
    ]
    if profile in ABLATIONS:  # why AG-HBN answers fine: one post-training factor at a time
        out.append(("ablation.md", "ablation.ipynb", dict(analysis, **ABLATIONS[profile])))
    if profile in SCHEDULES:  # how the profile's schedule was chosen, from its validation curves
        out.append(("schedule.md", "schedule.ipynb", dict(analysis, **SCHEDULES[profile])))
    # The reproducibility summary and checklist: after every page whose labels it links to.
    out.append(("report.md", "report.ipynb", dict(analysis, model_seeds=MODEL_SEEDS.get(profile, [0]),
                                                  **SCHEDULES.get(profile, {}))))
    out.append(("overview.md", "index.ipynb",  # the book's first page, written last
                dict(analysis, claims_also=CLAIMS_ALSO.get(profile, {}))))
    return out
