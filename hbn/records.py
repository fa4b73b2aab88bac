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

`load_records` checks every file it reads (`check_records`): each test image x exit exactly
once, these columns and dtypes, labels in range, finite entropies wherever a head exists.
`records.json` beside the records holds the digests of the weights and configuration they came
from; `check_identity` compares them with the run's files.
"""
from __future__ import annotations

import zlib
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


class RecordsError(ValueError):
    """An exit-records file is unreadable, incomplete or inconsistent; it was not used."""


INT_COLUMNS = ("image", "exit", "fine_true", "coarse_true", "fine_pred", "fine_pred_coarse",
               "coarse_pred")
FLOAT_COLUMNS = ("fine_entropy", "coarse_entropy", "fine_maxprob", "coarse_maxprob", "sem_prob_fine")
SIDECAR = "records.json"  # written by hbn.evaluate: digests of the weights and of these records
# A complete test pass, for records written before records.json existed: (images, hierarchy).
_DATASET_TEST_IMAGES = {"cifar100": 10_000, "fashion-mnist": 10_000, "tiny-imagenet-100": 5_000}


def remake_hint(run: Path) -> str:
    """How to get a run's records back: re-evaluate its weights where the folder has them; a
    committed run has none (weights are never committed), so restore its files instead."""
    run = Path(run)
    if (run / "model.pt").exists():
        return f"re-create them with `python -m hbn evaluate {run}`"
    return (f"restore them (`git checkout -- {run}` if the run is committed); {run} holds no "
            f"weights (they are never committed), so they cannot be re-computed there")


def expectations(run: Path) -> dict:
    """What a complete records file of `run` holds: images, exits, class counts, fine -> coarse.

    From `records.json` (written with the records) where present, else from the dataset named
    in `config.json` (only what that fixes), else nothing (structure is still checked)."""
    from . import runs
    run = Path(run)
    if (run / SIDECAR).exists():
        side = runs.read_json(run / SIDECAR, remake_hint(run))
        return {k: side[k] for k in ("images", "exits", "fine_to_coarse") if k in side}
    if (run / "config.json").exists():
        from . import hierarchy as hier
        dataset = runs.load_config(run).dataset
        h = hier.of(dataset)
        out = {"fine_to_coarse": list(h.fine_to_coarse_ids)}
        if dataset in _DATASET_TEST_IMAGES:
            out["images"] = _DATASET_TEST_IMAGES[dataset]
        return out
    return {}


def load_records(run: Path, split: str = "test") -> pd.DataFrame:
    """The exit records of `split` ("test" or "val") of a run folder (or a records file),
    checked by `check_records`."""
    path = Path(run) / records_file(split) if Path(run).is_dir() else Path(run)
    folder = path.parent
    fix = remake_hint(folder)
    if not path.exists():
        what = ("validation records (runs evaluated before they existed have none)"
                if split == "val" else "records")
        raise FileNotFoundError(f"{path} is missing ({what}); {fix}")
    try:
        df = pd.read_csv(path, dtype={c: np.float32 for c in FLOATS})
    except PermissionError as e:
        raise PermissionError(f"cannot read {path} (permission denied); make it readable "
                              f"(`chmod u+r {path}`)") from e
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, ValueError) as e:
        # EOFError: truncated gzip; BadGzipFile (OSError)/zlib.error: damaged; ParserError,
        # EmptyDataError (ValueError): not a CSV.
        raise RecordsError(f"{path} is unreadable or truncated ({type(e).__name__}: {e}); {fix}") from e
    check_records(df, str(path), expectations(folder) if path.name == RECORDS_FILE else {}, fix)
    return df


def check_records(df: pd.DataFrame, source: str = "records", expect: dict | None = None,
                  fix: str = "re-create them with `python -m hbn evaluate <run>`") -> None:
    """Raise RecordsError (naming `source` and what is wrong) unless `df` holds every image x exit
    exactly once, the right columns and dtypes, labels in range, and finite entropies and
    probabilities wherever an exit has a head. `expect` (see `expectations`) adds the number of
    test images, the exits and the fine -> coarse map."""
    expect = expect or {}

    def bad(what):
        raise RecordsError(f"{source}: {what}; {fix}")

    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS]
    if missing or extra:
        bad(f"wrong columns (missing {missing}, unexpected {extra})")
    if len(df) == 0:
        bad("no rows")
    for c in INT_COLUMNS:
        if not pd.api.types.is_integer_dtype(df[c]):
            col = pd.to_numeric(df[c], errors="coerce")
            rows = np.flatnonzero(~np.isfinite(col.to_numpy(float)) | (col.to_numpy(float) % 1 != 0))
            where = f" (first at data row {rows[0] + 1})" if len(rows) else ""
            bad(f"column {c} holds missing or non-integer values{where}: a truncated or edited file")
    for c in FLOAT_COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[c]):
            bad(f"column {c} holds non-numeric values")
    pairs = df[["image", "exit"]]
    dup = pairs.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        bad(f"image {df.image.iat[i]} exit {df.exit.iat[i]} appears more than once")
    exits = sorted(df["exit"].unique())
    if not set(exits) <= {1, 2, 3} or ("exits" in expect and exits != sorted(expect["exits"])):
        bad(f"exits {exits}, expected {expect.get('exits', 'a subset of [1, 2, 3]')}")
    per_image = df.groupby("image").size()
    if (per_image != len(exits)).any():
        img = int(per_image.index[np.flatnonzero(per_image.to_numpy() != len(exits))[0]])
        bad(f"image {img} has {per_image[img]} of the {len(exits)} exit rows")
    images = per_image.index.to_numpy()
    n = expect.get("images", len(images))
    if images.min() < 0 or images.max() >= n or len(images) != n:
        gaps = np.setdiff1d(np.arange(n), images)
        bad(f"holds {len(images):,} of the {n:,} test images"
            + (f" (first missing: {gaps[0]})" if len(gaps) else f" (image ids {images.min()}..{images.max()})"))
    f2c = np.asarray(expect["fine_to_coarse"]) if "fine_to_coarse" in expect else None
    num_fine = len(f2c) if f2c is not None else None
    num_coarse = int(f2c.max()) + 1 if f2c is not None else None
    for c, top in (("fine_true", num_fine), ("coarse_true", num_coarse)):
        v = df[c].to_numpy()
        if v.min() < 0 or (top is not None and v.max() >= top):
            bad(f"column {c} has labels out of range (min {v.min()}, max {v.max()}; "
                f"expected 0..{top - 1 if top else 'n'})")
    if (df.groupby("image")["fine_true"].nunique() > 1).any():
        bad("the true fine label of an image differs between its exits")
    if f2c is not None and (f2c[df.fine_true.to_numpy()] != df.coarse_true.to_numpy()).any():
        bad("coarse_true does not match fine_true under the dataset's hierarchy")
    for g, top in (("fine", num_fine), ("coarse", num_coarse)):
        pred = df[f"{g}_pred"].to_numpy()
        if pred.min() < -1 or (top is not None and pred.max() >= top):
            bad(f"column {g}_pred has classes out of range (min {pred.min()}, max {pred.max()}; "
                f"expected -1..{top - 1 if top else 'n'})")
        for e in exits:
            rows = (df["exit"] == e).to_numpy()
            has = pred[rows] >= 0
            if has.any() and not has.all():
                bad(f"exit {e} has a {g} head for some images only")
            if has.all():
                ent = df[f"{g}_entropy"].to_numpy()[rows]
                prob = df[f"{g}_maxprob"].to_numpy()[rows]
                if not np.isfinite(ent).all() or (ent < -1e-4).any():
                    bad(f"{g}_entropy of exit {e} holds non-finite or negative values "
                        f"(a diverged model, or a damaged file)")
                if not (np.isfinite(prob) & (prob >= 0) & (prob <= 1 + 1e-6)).all():
                    bad(f"{g}_maxprob of exit {e} holds values outside [0, 1]")
    fp, fpc = df.fine_pred.to_numpy(), df.fine_pred_coarse.to_numpy()
    if ((fp < 0) != (fpc < 0)).any() or (f2c is not None and (f2c[fp[fp >= 0]] != fpc[fp >= 0]).any()):
        bad("fine_pred_coarse is not the superclass of fine_pred")
    sem = df.sem_prob_fine.to_numpy()
    if not np.isnan(sem).all() and not (np.isfinite(sem) & (sem >= 0) & (sem <= 1 + 1e-6)).all():
        bad("sem_prob_fine holds values outside [0, 1]")


def as_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Records pivoted to arrays of shape (N images, n_exits) (labels: (N,)), exit order.
    The records are checked first (`check_records`, structure only)."""
    check_records(df)
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


def check_identity(run: Path) -> None:
    """Raise RecordsError unless the run's records are the ones `records.json` describes and
    came from its `model.pt` and `config.json` (each checked where present; records written
    before records.json existed are accepted as they are)."""
    from . import identity, runs
    run = Path(run)
    if not (run / SIDECAR).exists():
        return
    fix = remake_hint(run)
    side = runs.read_json(run / SIDECAR, fix)
    rec = run / RECORDS_FILE
    if side.get("records_sha256") and rec.exists() and identity.file_sha256(rec) != side["records_sha256"]:
        raise RecordsError(f"{rec} is not the file {run / SIDECAR} describes (it was replaced or "
                           f"edited after evaluation); {fix}")
    weights = run / "model.pt"
    if side.get("weights_sha256") and weights.exists() and identity.file_sha256(weights) != side["weights_sha256"]:
        raise RecordsError(f"{rec} came from other weights than {weights} (trained again after "
                           f"the evaluation?); {fix}")
    if "config" in side and (run / "config.json").exists():
        from .config import RunConfig
        diff = identity.config_differences(RunConfig.from_dict(side["config"]), runs.load_config(run))
        if diff:
            raise RecordsError(f"{rec} came from a different configuration than {run / 'config.json'} "
                               f"({identity.describe_differences(diff, SIDECAR, 'config.json')}); {fix}")
