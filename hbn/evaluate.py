"""Deterministic evaluation of a run directory into exit records (no augmentation):
the test split, and the validation split that training held out (`records-val.csv.gz`).

Under the run's lock (hbn.lock), and only from weights whose stored configuration is the one
in config.json. The records are checked before they are written (atomically), and
`records.json` beside them names the digests of the weights and records they belong to.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pandas as pd

from . import identity, runs
from .data import Dataset, load_dataset
from .device import resolve_device
from .lock import run_lock
from .models import build_model
from .records import (RECORDS_FILE, SIDECAR, RecordsError, check_records, exit_records,
                      load_records, records_file, save_records)


def evaluate(run: Path, ds: Dataset | None = None, device: str = "auto") -> pd.DataFrame:
    """Write `records.csv.gz` (test set), `records-val.csv.gz` (validation split) and
    `records.json`; return the test records."""
    run = Path(run)
    runs.load_config(run)  # a run folder at all? (before the lock creates anything)
    with run_lock(run):
        cfg = runs.load_config(run)
        weights = run / "model.pt"
        if not weights.exists():
            raise FileNotFoundError(no_weights(run, cfg))
        state = runs.load_checkpoint(weights)
        identity.check_weights(state, cfg, weights)
        ds = ds or load_dataset(cfg.dataset, cfg.data_dir or None)
        model = build_model(cfg, ds)
        model.load_state_dict(state["model"])
        model.to(resolve_device(device))
        df = exit_records(model, ds.test, ds, cfg.eval_batch_size)
        expect = {"images": len(ds.test), "exits": sorted(int(e) for e in df["exit"].unique()),
                  "fine_to_coarse": list(ds.hierarchy.fine_to_coarse_ids)}
        try:
            check_records(df, f"the test records computed from {weights}", expect,
                          "the weights give non-finite outputs (did the training diverge?); "
                          "train the run again, with a smaller --lr")
        except RecordsError as e:
            raise RecordsError(f"{e}; nothing was written") from e
        # Validation records (the split training held out), from the same pass code: the
        # operating point is chosen on them (hbn.selection), never on the test set.
        val = exit_records(model, ds.val, ds, cfg.eval_batch_size)
        check_records(val, f"the validation records computed from {weights}",
                      {**expect, "images": len(ds.val)})
        if runs.finished_folder(run):  # a finished run is never rewritten: verify it instead
            _verify(run, {"test": df, "val": val}, weights)
            return df
        path = _save_atomic(df, run)
        _save_atomic(val, run, split="val")
        runs.write_json(run / SIDECAR, {
            "records": RECORDS_FILE, "records_sha256": identity.file_sha256(path),
            "weights": weights.name, "weights_sha256": identity.file_sha256(weights),
            "config_digest": identity.config_digest(state["config"]), "config": state["config"],
            **expect})
    return df


def no_weights(run: Path, cfg) -> str:
    """Why `run` cannot be evaluated without model.pt, and a way on that overwrites nothing."""
    if runs.finished_folder(run):
        return (f"{run} holds a finished run whose weights are not in the folder (weights are never "
                f"committed); its stored test records are what `python -m hbn evaluate` shows. To "
                f"re-make the weights, train the same run into another folder: "
                f"`{runs.train_command(dataclasses.replace(cfg, out_dir='/tmp/hbn-runs'), resume=False)}`")
    return (f"{run} has no model.pt: the run did not finish; continue it with "
            f"`{runs.train_command(cfg, run)}`")


def _verify(run: Path, fresh: dict, weights: Path) -> None:
    """Raise unless the stored records of a finished run are what its weights give now."""
    for split, df in fresh.items():
        try:
            stored = load_records(run, split)
        except FileNotFoundError:
            continue  # (runs evaluated before validation records existed)
        if not stored.reset_index(drop=True).equals(df.reset_index(drop=True)):
            raise RecordsError(f"the stored {records_file(split)} of {run} differs from a fresh "
                               f"evaluation of {weights}; nothing was written. If the weights are "
                               f"right, re-make the run with `--retrain`")


def _save_atomic(df: pd.DataFrame, run: Path, split: str = "test") -> Path:
    """`save_records` into a scratch folder, then renamed over the old records: a crash or a
    full disk never leaves half a records file, and no scratch file stays behind."""
    scratch, target = run / ".records.tmp", run / records_file(split)
    try:
        scratch.mkdir(exist_ok=True)
        os.replace(save_records(df, scratch, split=split), target)
    except OSError as e:
        old = target.stat().st_size if target.exists() else 40 * len(df)
        raise runs.write_error(e, target, old) from e
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def accuracy_table(df: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of every exit at each granularity it has (NaN where it has none)."""
    rows = []
    for e, g in df.groupby("exit"):
        rows.append({"branch": e,
                     "fine": (g.fine_pred == g.fine_true).mean() if (g.fine_pred >= 0).all() else float("nan"),
                     "coarse": (g.coarse_pred == g.coarse_true).mean() if (g.coarse_pred >= 0).all() else float("nan"),
                     "fine_as_coarse": (g.fine_pred_coarse == g.coarse_true).mean() if (g.fine_pred >= 0).all() else float("nan")})
    return pd.DataFrame(rows).set_index("branch")
