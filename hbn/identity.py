"""Which experiment a file belongs to: the configuration digest stored with the weights, the
field-by-field comparison behind every refusal ("epochs: 1 in model.pt, 4 in config.json"), and
file digests (records.json names those of the weights and records it describes).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from . import runs
from .config import LOCATION_FIELDS, RunConfig, inert_fields


class IdentityError(ValueError):
    """Files of one run folder come from different configurations or weights."""


def config_digest(cfg) -> str:
    """sha256 of the canonical JSON of a configuration (a RunConfig or its stored dict), the
    location fields (out_dir, data_dir, device) left out: what the run computes, not where."""
    d = cfg.to_dict() if isinstance(cfg, RunConfig) else dict(cfg)
    d = {k: v for k, v in d.items() if k not in LOCATION_FIELDS}
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":"),
                                     default=list).encode()).hexdigest()


def config_differences(a: RunConfig, b: RunConfig) -> dict[str, tuple]:
    """{field: (a's value, b's value)} for the fields where `a` and `b` differ, those that do not
    change what the run computes aside (`config.inert_fields`: location, and post-training
    settings for models other than AG-HBN)."""
    da, db = a.to_dict(), b.to_dict()
    inert = inert_fields(a.model) if a.model == b.model else LOCATION_FIELDS
    return {k: (da[k], db[k]) for k in da if k not in inert and _plain(da[k]) != _plain(db[k])}


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def describe_differences(diff: dict[str, tuple], a: str, b: str) -> str:
    return "; ".join(f"{k}: {va!r} in {a}, {vb!r} in {b}" for k, (va, vb) in diff.items())


def check_same_config(folder: Path, cfg: RunConfig) -> None:
    """Refuse to train `cfg` into `folder` when its config.json says another experiment."""
    if not (Path(folder) / "config.json").exists():
        return
    diff = config_differences(runs.load_config(folder), cfg)
    if diff:
        raise IdentityError(
            f"{folder} holds a run with a different configuration ({describe_differences(diff, 'config.json', 'this command')}); "
            f"nothing was written. Train into another --out-dir, or move that folder away first")


def check_weights(state: dict, cfg: RunConfig, path: Path) -> None:
    """Refuse weights (`state`, loaded from `path`) whose configuration is not `cfg`."""
    stored = state.get("config")
    if stored is None:
        raise IdentityError(f"{path} carries no configuration, so it cannot be checked against "
                            f"config.json; train the run again")
    digest = state.get("config_digest")
    if digest is not None and digest != config_digest(stored):
        raise IdentityError(f"{path} is damaged: its configuration does not match the digest "
                            f"stored with it; train the run again")
    try:
        mine = RunConfig.from_dict(stored)
    except (TypeError, ValueError) as e:
        raise IdentityError(f"{path} carries a configuration this version cannot read ({e})") from e
    diff = config_differences(mine, cfg)
    if diff:
        folder = Path(path).parent
        home = runs.run_dir(dataclasses.replace(cfg, out_dir=str(folder.parent.parent.parent)))
        fix = (f"Delete {path} (and checkpoint.pt) and train the run again with "
               f"`{runs.train_command(cfg, folder, resume=False)}`, or restore the {path.name} "
               f"that belongs to config.json" if home.resolve() == folder.resolve() else
               f"config.json's settings do not belong in this folder either (they name {home}): "
               f"restore the config.json that belongs here (`git checkout -- {folder / 'config.json'}` "
               f"if it is committed)")
        raise IdentityError(
            f"{path} was trained with a different configuration than {folder / 'config.json'} "
            f"({describe_differences(diff, path.name, 'config.json')}); nothing was written. {fix}")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
