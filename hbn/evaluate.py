"""Deterministic evaluation of a run directory into exit records (no augmentation):
the test split, and the validation split that training held out (`records-val.csv.gz`).

Under the run's lock (hbn.lock), and only from weights whose stored configuration is the one
in config.json. The records are checked before they are written (atomically), and
`records.json` beside them names the digests of the weights and records they belong to.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from . import identity, runs
from .data import Dataset, load_dataset
from .device import resolve_device
from .lock import run_lock
from .records import (RECORDS_FILE, SIDECAR, RecordsError, check_records, exit_records,
                      records_file, save_records)
from .train import build_model


def evaluate(run: Path, ds: Dataset | None = None, device: str = "auto") -> pd.DataFrame:
    """Write `records.csv.gz` (test set), `records-val.csv.gz` (validation split) and
    `records.json`; return the test records."""
    run = Path(run)
    runs.load_config(run)  # a run folder at all? (before the lock creates anything)
    with run_lock(run):
        cfg = runs.load_config(run)
        weights = run / "model.pt"
        if not weights.exists():
            raise FileNotFoundError(f"{run} has no model.pt: the run did not finish; continue it "
                                    f"with `{runs.train_command(cfg, run)}`")
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
        path = _save_atomic(df, run)
        # Validation records (the split training held out), from the same pass code: the
        # operating point is chosen on them (hbn.selection), never on the test set.
        val = exit_records(model, ds.val, ds, cfg.eval_batch_size)
        check_records(val, f"the validation records computed from {weights}",
                      {**expect, "images": len(ds.val)})
        _save_atomic(val, run, split="val")
        runs.write_json(run / SIDECAR, {
            "records": RECORDS_FILE, "records_sha256": identity.file_sha256(path),
            "weights": weights.name, "weights_sha256": identity.file_sha256(weights),
            "config_digest": identity.config_digest(state["config"]), "config": state["config"],
            **expect})
    return df


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
