"""Which notebook runs with which parameters: the single list the book runner feeds papermill.

`entries(profile, dataset)` returns, in execution order, (source notebook, executed copy's
name, parameters). Parameter names are `hbn.config.RunConfig` fields (plus `models`/`seeds`
for the notebooks that read several runs).
"""
from __future__ import annotations

MODELS = ["alexnet", "b-alexnet", "sem-alexnet", "gran-hbn", "ag-hbn"]
EXTRA_SEEDS = {"smoke": [1], "quick": [1, 2], "standard": [1, 2], "paper": [1, 2]}  # extra Gran-HBN seeds, for intervals
# Accuracy targets of the operating-point page, per dataset (spread to cover short and full
# trainings; a target out of reach is reported as not certified), and its FLOPs budgets.
TARGETS = {"synthetic": [0.9, 0.95, 0.98], "fashion-mnist": [0.8, 0.85, 0.9, 0.93],
           "cifar100": [0.5, 0.55, 0.6, 0.65]}
OPERATING = dict(confidence=0.95, flops_budgets=[0.3, 0.5, 0.7])


def entries(profile: str, dataset: str, out_dir: str, data_dir: str, models=None, seeds=None):
    """`models` / `seeds` (Gran-HBN seeds; seed 0 for every model) default to the study's."""
    common = dict(dataset=dataset, profile=profile, out_dir=out_dir, data_dir=data_dir)
    models = list(models or MODELS)
    seeds = list(seeds if seeds is not None else [0, *EXTRA_SEEDS.get(profile, [1, 2])])
    runs = [(m, 0) for m in models] + [("gran-hbn", s) for s in seeds if s]
    out = []
    for model, seed in runs:
        out.append(("train.ipynb", f"01-train-{model}-s{seed}.ipynb",
                    dict(common, model=model, seed=seed)))
    analysis = dict(common, models=models, seeds=seeds)
    out += [
        ("evaluate.ipynb", "02-evaluate.ipynb", analysis),
        ("tau_sweep.ipynb", "03-tau-sweep.ipynb", analysis),
        ("comparison.ipynb", "04-comparison.ipynb", analysis),
        ("entropy.ipynb", "05-entropy.ipynb", analysis),
        ("beyond.ipynb", "06-beyond-the-paper.ipynb", analysis),
        ("operating_point.ipynb", "07-operating-point.ipynb",
         dict(analysis, targets=TARGETS.get(dataset, [0.8, 0.9, 0.95]), **OPERATING)),
        ("overview.ipynb", "index.ipynb", analysis),  # the book's first page, written last
    ]
    return out
