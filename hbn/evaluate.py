"""Deterministic evaluation of a run directory into exit records (no augmentation): the test
split and the validation split training held out."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import runs
from .data import Dataset, load_dataset
from .records import exit_records, save_records
from .train import build_model, resolve_device


def evaluate(run: Path, ds: Dataset | None = None, device: str = "auto") -> pd.DataFrame:
    """Write `records.csv.gz` (test set) and `records-val.csv.gz` (validation split) from the
    same deterministic pass code; return the test records."""
    run = Path(run)
    cfg = runs.load_config(run)
    if not (run / "model.pt").exists():
        raise FileNotFoundError(f"{run} has no model.pt: the run did not finish; continue it with "
                                f"`python -m hbn train --model {cfg.model} --profile {cfg.profile} "
                                f"--dataset {cfg.dataset} --resume`")
    ds = ds or load_dataset(cfg.dataset, cfg.data_dir or None)
    model = build_model(cfg, ds)
    model.load_state_dict(runs.load_checkpoint(run / "model.pt")["model"])
    model.to(resolve_device(device))
    df = exit_records(model, ds.test, ds, cfg.eval_batch_size)
    save_records(df, run)
    save_records(exit_records(model, ds.val, ds, cfg.eval_batch_size), run, split="val")
    return df


def accuracy_table(df: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of every exit at each granularity it has (NaN where it has none)."""
    rows = []
    for e, g in df.groupby("exit"):
        rows.append({"branch": e,
                     "fine": (g.fine_pred == g.fine_true).mean() if (g.fine_pred >= 0).all() else float("nan"),
                     "coarse": (g.coarse_pred == g.coarse_true).mean() if (g.coarse_pred >= 0).all() else float("nan"),
                     "fine_as_coarse": (g.fine_pred_coarse == g.coarse_true).mean() if (g.fine_pred >= 0).all() else float("nan")})
    return pd.DataFrame(rows).set_index("branch")
