"""Run directories: where a run's config, metrics, checkpoints and results live.

Layout: `{out_dir}/{dataset}/{profile}[-{variant}]/{model}-s{seed}/`, the variant being a short
hash of the fields that differ from the profile (`config.variant_name`), with `config.json`, `meta.json`
(git revision, library versions, device), `metrics.jsonl` (one line per epoch),
`checkpoint.pt` (last epoch, for --resume), `model.pt` (final weights with their configuration
and its digest, hbn.identity), `records.csv.gz` with `records.json` (the digests of the weights
and records they belong to),
and `.lock` while a process works on it (hbn.lock).
Every write is atomic and a failed one names the file, the cause and the fix (full disk,
permissions); so do reads of damaged JSON.
"""
from __future__ import annotations

import errno
import io
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import torch

from .config import RunConfig, variant_fields, variant_name


def profile_dir(cfg: RunConfig) -> str:
    """'<profile>' for the profile's own settings, '<profile>-<hash>' for a variant."""
    v = variant_name(cfg)
    return f"{cfg.profile}-{v}" if v else cfg.profile


def run_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / cfg.dataset / profile_dir(cfg) / cfg.run_name


def train_command(cfg: RunConfig, folder: Path | None = None, resume: bool = True) -> str:
    """The command that trains (by default: continues) `cfg`'s run in `folder` (default: its
    run_dir), to be printed in a hint: it works as printed."""
    folder = Path(folder) if folder is not None else run_dir(cfg)
    out_dir = folder.parent.parent.parent  # {out_dir}/{dataset}/{profile[-variant]}/{run}
    flags = []
    for k, v in variant_fields(cfg).items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            flags.append(flag if v else "--no-" + k.replace("_", "-"))
        elif isinstance(v, (list, tuple)):
            flags.append(f"{flag} {' '.join(map(str, v))}")
        elif v is not None:
            flags.append(f"{flag} {v}")
    return " ".join(["python -m hbn train --model", cfg.model, "--profile", cfg.profile,
                     "--dataset", cfg.dataset, "--seed", str(cfg.seed), "--out-dir", str(out_dir),
                     *flags] + (["--resume"] if resume else []))


# What counts as code for "+dirty": results, executed pages and figures are outputs.
CODE_PATHS = ("hbn", ":(glob)notebooks/*.md", "notebooks/manifest.py", "scripts", "pyproject.toml")


def git_revision() -> str:
    """'<short revision>[+dirty]', dirty when code (`CODE_PATHS`) has uncommitted changes."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *CODE_PATHS], capture_output=True, text=True,
                               cwd=Path(__file__).parent.parent, timeout=10).stdout.strip()
        return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_tag() -> str:
    """The CPU model as a file-name part ("amd-epyc"): benchmarks that differ per machine write
    one result file per CPU."""
    return re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")


def environment() -> dict:
    import numpy
    import torchvision
    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"cpu ({cpu_model()})")
    return {"git": git_revision(), "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "device": device, "threads": torch.get_num_threads(), "host": platform.node()}


class DiskFull(OSError):
    """The disk filled during a write; nothing was replaced and no temporary file was left."""


class TrainingDiverged(RuntimeError):
    """The training loss became non-finite; the last good checkpoint was kept."""


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def write_error(e: OSError, path: Path, needed: int | None = None) -> OSError:
    """`e`, raised while writing `path`, as an error that names the file, the cause and the fix."""
    path = Path(path)
    if e.errno == errno.ENOSPC:
        try:
            free = f", {_size(shutil.disk_usage(path.parent).free)} free"
        except OSError:
            free = ""
        need = f"about {_size(needed)} needed{free}" if needed else f"no space left{free}"
        return _with_errno(DiskFull(
            f"the disk holding {path.parent} is full ({need}) while writing {path.name}; the "
            f"previous {path.name} is untouched and no temporary file was left. Free some space "
            f"(or choose another --out-dir) and run the command again (a training continues "
            f"with --resume)"), errno.ENOSPC)
    if isinstance(e, PermissionError) or e.errno == errno.EROFS:
        why = "read-only file system" if e.errno == errno.EROFS else "permission denied"
        return _with_errno(PermissionError(
            f"cannot write {path} ({why}); make {path.parent} writable for you (e.g. `chmod u+w`) "
            f"or choose another --out-dir"), e.errno)
    return _with_errno(OSError(f"cannot write {path} ({e.strerror or e}); check the disk and the "
                               f"folder {path.parent}, then run the command again"), e.errno)


def _with_errno(err: OSError, code) -> OSError:
    err.errno = code  # a one-argument OSError keeps its message as str(); errno stays testable
    return err


def write_bytes(path: Path, data) -> None:
    """Atomic write: a crash or a full disk mid-write never destroys the previous file and never
    leaves `<name>.tmp` behind."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_error(e, path, len(data)) from e
        raise


def write_json(path: Path, obj) -> None:
    write_bytes(path, json.dumps(obj, indent=2, default=str).encode())


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def append_line(path: Path, line: str) -> None:
    """Append one line; on failure the file is cut back to its previous length (no half line)."""
    path = Path(path)
    data = (line.rstrip("\n") + "\n").encode()
    try:
        with open(path, "ab") as f:
            size = f.tell()
            try:
                f.write(data)
                f.flush()
            except OSError:
                f.truncate(size)
                raise
    except OSError as e:
        raise write_error(e, path, len(data)) from e


def _nbytes(obj) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


def save_atomic(obj, path: Path) -> None:
    """torch.save `obj` to `path` atomically (serialised in memory first, then `write_bytes`)."""
    buf = io.BytesIO()
    try:
        torch.save(obj, buf)
    except OSError as e:
        raise write_error(e, path, _nbytes(obj)) from e
    write_bytes(path, buf.getbuffer())


def read_json(path: Path, fix: str):
    """The JSON in `path`; an unreadable, empty or invalid file is an error naming it and `fix`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path} ({e}); {fix}") from e
    if not text.strip():
        raise ValueError(f"{path} is empty; {fix}")
    try:
        return json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); {fix}") from e


class CheckpointError(RuntimeError):
    """A checkpoint or weights file could not be read as data of the shape hbn writes."""


def load_checkpoint(path: Path, required: tuple[str, ...] = ("config", "model")) -> dict:
    """The dict in a checkpoint or weights file, loaded as data only (`weights_only=True`: a
    pickle that would call a function is refused, never run), with the keys it must hold."""
    path = Path(path)
    fix = ("delete it and train again (`--retrain`, which keeps the old folder as "
           "<run>.previous), or restore it from a backup")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for code, EOFError / RuntimeError for damage
        code = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", str(e))
        if code:
            raise CheckpointError(f"{path} is not plain data: loading it would call {code.group(1)}; "
                                  f"it was refused and nothing in it ran. Do not use this file; "
                                  f"{fix}") from e
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        why = lines[-2] if len(lines) > 1 and "weights_only" in str(e) else (
            lines[0] if lines else type(e).__name__)
        raise CheckpointError(f"{path} is corrupt or unreadable ({why}); {fix}") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint "
                              f"dictionary; {fix}")
    missing = [k for k in required if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(repr(k) for k in missing)}, so it is not "
                              f"a checkpoint of hbn or is damaged; {fix}")
    return state


def set_aside(run: Path, log=print) -> None:
    """Move a run folder to '<folder>.previous' (replacing an older one) so it trains afresh:
    an explicit retrain loses nothing until it has finished."""
    run = Path(run)
    if run.exists():
        from .lock import run_lock
        with run_lock(run, log=lambda *_: None):  # RunLocked while a process works on it
            pass
        old = run.with_name(run.name + ".previous")
        if old.exists():
            shutil.rmtree(old)
        run.rename(old)
        log(f"retrain: {run} set aside as {old.name}")


def finished_folder(path: Path) -> bool:
    """True when `path`'s own files say its run finished: a log line for every epoch of its
    config.json and its test records (weights are not needed: they are never committed). Such a
    folder is never written again by train or evaluate (only `--retrain` sets it aside)."""
    path = Path(path)
    if not (path / "config.json").exists() or not (path / "records.csv.gz").exists():
        return False
    try:
        cfg = load_config(path)
        epochs = [m.get("epoch") for m in read_metrics(path)]
    except (ValueError, OSError):
        return False
    return epochs == list(range(1, cfg.epochs + 1))


def load_config(path: Path) -> RunConfig:
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{path} is not a run directory (no config.json); train one with "
                                f"`python -m hbn train ...` first")
    fix = (f"it holds the run's configuration: restore it (`git checkout -- {cfg_file}` if it is "
           f"committed) or delete {path} and train again")
    try:
        return RunConfig.from_dict(read_json(cfg_file, fix))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{cfg_file}: {e}" if str(cfg_file) not in str(e) else str(e)) from e


def read_meta(path: Path) -> dict:
    f = Path(path) / "meta.json"
    return read_json(f, f"restore it (`git checkout -- {f}` if committed) or delete it (it holds "
                        f"only the environment record of the run)") if f.exists() else {}


def read_metrics(path: Path) -> list[dict]:
    f = Path(path) / "metrics.jsonl"
    if not f.exists():
        return []
    try:
        lines = f.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {f} ({e}); restore it or delete the run folder") from e
    rows = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"line {i} of {f} is not valid JSON ({e}); delete that line "
                                 f"(and the lines after it), then continue with --resume") from e
            if not isinstance(rows[-1], dict) or "epoch" not in rows[-1]:
                raise ValueError(f"line {i} of {f} is not an epoch record; delete that line, then "
                                 f"continue with --resume")
    return rows
