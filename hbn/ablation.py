"""Why AG-HBN's semantic exit answers fine: one factor at a time, from the exit records of AG-HBN
runs that share one joint-trained checkpoint (`hbn.reuse.fork_post_training`) and differ in one
post-training setting each, plus eq. (12)'s cut chosen on validation instead of 0.5.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis as A
from . import routing as R
from . import selection as S
from .records import as_arrays, load_records

CUT = "eq. (12) cut chosen on validation"


def _row(label: str, run, fine: np.ndarray, cut: float, val_delta: float) -> dict:
    a = run.arrays
    n = len(a["fine_true"])
    acc = {f"accuracy, exit {int(e)}": A.score(a, *R.forced(n, b, fine))["accuracy"]
           for b, e in enumerate(a["exits"])}
    target = S.semantic_target(a, run.config.sem_fine_weight)
    auc = S.roc_auc(a["sem_prob_fine"], target)
    c = run.config
    return {"variant": label, "post-training lr": c.post_lr,
            "post-training epochs": c.post_epochs, "cut on P(fine)": cut,
            "δ, validation": val_delta, "δ, test": float(fine.mean()), **acc,
            "accuracy, mean over exits": float(np.mean(list(acc.values()))),
            "eq. (8) target: share fine (test)": float(target.mean()),
            "ROC AUC of P(fine) against the target": auc}


def _val_prob(run) -> np.ndarray:
    return as_arrays(load_records(run.path, split="val"))["sem_prob_fine"]


def table(variants: dict, target_delta: float, val_prob=_val_prob) -> pd.DataFrame:
    """One row per variant (label -> AG-HBN `Run`, the first the base, as trained), each at
    eq. (12)'s cut 0.5, then the base with the cut chosen on its validation records so that a
    share `target_delta` of them answers fine (`selection.cut_for_specificity`). Per image,
    every image forced to each exit; accuracies and δ as fractions. `val_prob(run)` gives a
    run's validation P(fine) (default: from its validation records)."""
    rows = []
    for label, run in variants.items():
        fine = R.ag_hbn_forced(run.arrays["sem_prob_fine"], mode="sample")
        val = val_prob(run)
        rows.append(_row(label, run, fine, 0.5, float((val > 0.5).mean())))
    base_label, base = next(iter(variants.items()))
    val = val_prob(base)
    cut = S.cut_for_specificity(val, target_delta)
    fine = (base.arrays["sem_prob_fine"] > cut).astype(float)
    rows.append(_row(f"{base_label}, {CUT} (δ = {target_delta:g})", base, fine, cut,
                     float((val > cut).mean())))
    return pd.DataFrame(rows)


def mover(t: pd.DataFrame) -> tuple[str, float, float]:
    """The variant whose test δ differs most from the base's (the first row): (label, base δ,
    its δ)."""
    base = float(t["δ, test"].iloc[0])
    i = int((t["δ, test"].iloc[1:] - base).abs().to_numpy().argmax()) + 1
    return str(t["variant"].iloc[i]), base, float(t["δ, test"].iloc[i])
