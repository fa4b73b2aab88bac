"""Run directories: where a run's config, metrics, checkpoints and results live.

Layout: `{out_dir}/{dataset}/{profile}[-{variant}]/{model}-s{seed}/`, the variant being a short
hash of the fields that differ from the profile (`config.variant_name`), with `config.json`, `meta.json`
(git revision, library versions, device), `metrics.jsonl` (one line per epoch),
`checkpoint.pt` (last epoch, for --resume), `model.pt` (final weights) and `records.csv.gz`.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import torch

from .config import RunConfig, variant_name


def profile_dir(cfg: RunConfig) -> str:
    """'<profile>' for the profile's own settings, '<profile>-<hash>' for a variant."""
    v = variant_name(cfg)
    return f"{cfg.profile}-{v}" if v else cfg.profile


def run_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / cfg.dataset / profile_dir(cfg) / cfg.run_name


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=Path(__file__).parent,
                               timeout=10).stdout.strip()
        return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    import numpy
    import torchvision
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"cpu ({platform.processor() or platform.machine()})")
    return {"git": git_revision(), "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "device": device, "threads": torch.get_num_threads(), "host": platform.node()}


def write_json(path: Path, obj) -> None:
    """Atomic write: a crash mid-write never destroys the previous file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise RuntimeError(f"checkpoint {path} is corrupt or unreadable ({e}); delete it and "
                           f"re-run without --resume (or restore it from a backup)") from e


def load_config(path: Path) -> RunConfig:
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a run directory (no config.json); train one with "
                                f"`python -m hbn train ...` first")
    return RunConfig.from_dict(json.loads(cfg_file.read_text()))


def read_metrics(path: Path) -> list[dict]:
    f = Path(path) / "metrics.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []
