"""Exit records: one deterministic pass of a trained run over a split, kept as a tidy table.

Every analysis (routing, τ sweeps, regions, entropies, oracle) reads these records and never
re-runs the network. The test split goes to `records.csv.gz`; the validation split (held out by
training, never trained on) to `records-val.csv.gz`, same format, for choosing operating points
(hbn.selection). One row per (image, exit). Columns:

image            index in the split
exit             1-based branch number (AlexNet's only exit is branch 3)
fine_true        true fine label;    coarse_true: true coarse label
fine_pred        argmax of the fine head (-1 where the exit has none)
fine_pred_coarse superclass of fine_pred (-1 where none): scores a fine answer at coarse level
coarse_pred      argmax of the coarse head (-1 where none)
fine_entropy     entropy of the fine softmax, nats (eqs. 3, 9; NaN where none)
coarse_entropy   entropy of the coarse softmax, nats (NaN where none)
fine_maxprob     max fine softmax probability (NaN where none); coarse_maxprob likewise
sem_prob_fine    AG-HBN: P(answer fine) from the semantic exit on branch 1 (NaN otherwise),
                 repeated on every exit row of the image; eq. (12)'s ŷ_sem = 1[P > 0.5]

Probabilities and entropies are float32, written with 9 significant digits (enough for any
float32 to read back bit for bit) and read back as float32, so every routing decision made
on loaded records equals the one made on the records in memory. Files written before this
(6 digits) still load, at their own precision.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .batching import batches
from .data import Dataset
from .losses import entropy

RECORDS_FILE = "records.csv.gz"
SPLIT_FILES = {"test": RECORDS_FILE, "val": "records-val.csv.gz"}
COLUMNS = ("image", "exit", "fine_true", "coarse_true", "fine_pred", "fine_pred_coarse",
           "coarse_pred", "fine_entropy", "coarse_entropy", "fine_maxprob", "coarse_maxprob",
           "sem_prob_fine")
FLOATS = ("fine_entropy", "coarse_entropy", "fine_maxprob", "coarse_maxprob", "sem_prob_fine")


@torch.no_grad()
def exit_records(model, split, ds: Dataset, batch_size: int = 512) -> pd.DataFrame:
    """Run `split` once through every exit of `model` (eval mode, no augmentation)."""
    model.eval()
    device = next(model.parameters()).device
    lookup = ds.hierarchy.fine_to_coarse(device)
    chunks = []
    start = 0
    for x, fine, coarse in batches(split.to(device), batch_size, ds.mean, ds.std):
        outs = model(x)
        b = len(fine)
        sem = (torch.softmax(outs[0]["semantic"].float(), -1)[:, 1] if "semantic" in outs[0]
               else torch.full((b,), float("nan"), device=device))
        for stage, out in zip(model.exit_stages, outs):
            cols = {"image": torch.arange(start, start + b), "exit": torch.full((b,), stage + 1),
                    "fine_true": fine, "coarse_true": coarse, "sem_prob_fine": sem}
            for g in ("fine", "coarse"):
                if g in out:
                    p = torch.softmax(out[g].float(), -1)
                    pred = p.argmax(-1)
                    cols[f"{g}_pred"], cols[f"{g}_maxprob"] = pred, p.max(-1).values
                    cols[f"{g}_entropy"] = entropy(out[g])
                else:
                    cols[f"{g}_pred"] = torch.full((b,), -1)
                    cols[f"{g}_maxprob"] = cols[f"{g}_entropy"] = torch.full((b,), float("nan"))
            fp = cols["fine_pred"].to(device)
            cols["fine_pred_coarse"] = torch.where(fp >= 0, lookup[fp.clamp(min=0)], -1)
            chunks.append(pd.DataFrame({k: v.cpu().numpy() for k, v in cols.items()}))
        start += b
    df = pd.concat(chunks, ignore_index=True)[list(COLUMNS)]
    return df.sort_values(["image", "exit"], ignore_index=True)


def records_file(split: str = "test") -> str:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {sorted(SPLIT_FILES)}, got {split!r}")
    return SPLIT_FILES[split]


def save_records(df: pd.DataFrame, run: Path, split: str = "test") -> Path:
    path = Path(run) / records_file(split)
    # mtime 0: the same records give the same bytes, so re-evaluations show up in git only if they differ
    df = df.astype({c: np.float32 for c in FLOATS})  # a no-op for exit_records' output
    # %.9g: every float32 reads back exactly (see the module docstring)
    df.to_csv(path, index=False, float_format="%.9g", compression={"method": "gzip", "mtime": 0})
    return path


def load_records(run: Path, split: str = "test") -> pd.DataFrame:
    """Records of `split` ("test" or "val") from a run directory (or a records file path)."""
    path = Path(run) / records_file(split) if Path(run).is_dir() else Path(run)
    if not path.exists():
        what = ("validation records (runs evaluated before they existed have none)"
                if split == "val" else "records")
        raise FileNotFoundError(f"{path} is missing ({what}): run `python -m hbn evaluate "
                                f"{Path(run)}` to write them")
    return pd.read_csv(path, dtype={c: np.float32 for c in FLOATS})


def as_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Records pivoted to arrays of shape (N images, n_exits) (labels: (N,)), exit order."""
    exits = sorted(df["exit"].unique())
    wide = df.pivot(index="image", columns="exit")
    out = {"exits": np.asarray(exits)}
    for col in ("fine_pred", "fine_pred_coarse", "coarse_pred", "fine_entropy", "coarse_entropy",
                "fine_maxprob", "coarse_maxprob"):
        out[col] = wide[col][exits].to_numpy()
    first = df[df["exit"] == exits[0]].sort_values("image")
    for col in ("fine_true", "coarse_true", "sem_prob_fine"):
        out[col] = first[col].to_numpy()
    return out
