"""One process per run folder: an advisory lock held for the whole of `train` and `evaluate`.

Two trainings on one folder interleave their metrics and mix one run's config with the other's
weights (issue 11), so the second process must fail at once. The lock is `fcntl.flock` on
`<run>/.lock`, which also holds the holder's PID, command line and start time as text. The
kernel drops a flock when its process dies (SIGKILL included), so a lock left by a killed
process is never in force; its text then only names who left it, and the next process says
so and takes it over. A clean release deletes the file (while still holding the lock; a
process that waited on the deleted file notices and retries on the new one).
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"
_held: dict[Path, int] = {}  # folders this process holds -> nesting depth (the lock is re-entrant)


class RunLocked(RuntimeError):
    """Another live process holds the run folder's lock."""


def command_line() -> str:
    """This process's command as a user would type it (`python -m hbn ...` for the CLI)."""
    argv = list(sys.argv) or ["python"]
    if argv[0].endswith(os.path.join("hbn", "__main__.py")):
        argv[0] = "python -m hbn"
    return " ".join(argv)


def holder_text() -> str:
    return (f"pid {os.getpid()}\ncommand {command_line()}\n"
            f"started {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n")


def parse_holder(text: str) -> dict[str, str]:
    """{'pid': ..., 'command': ..., 'started': ...} from a lock file's text (missing keys absent)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in ("pid", "command", "started") and value:
            out[key] = value.strip()
    return out


def describe(holder: dict[str, str]) -> str:
    return (f"PID {holder.get('pid', '?')} ({holder.get('command', 'command unknown')}, "
            f"started {holder.get('started', '?')})")


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 65536).decode("utf-8", "replace")


def _acquire(path: Path) -> tuple[int, str]:
    """Open and flock `path`; return (fd, text a previous holder left). Raises RunLocked."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = _read(fd)
            for _ in range(20):  # the holder writes its name right after locking
                if parse_holder(text).get("pid"):
                    break
                time.sleep(0.05)
                text = _read(fd)
            os.close(fd)
            folder = path.parent
            raise RunLocked(
                f"{folder} is in use by {describe(parse_holder(text))}: two processes on one run "
                f"folder would corrupt it. Wait for that process to finish, or stop it "
                f"(`kill {parse_holder(text).get('pid', '<pid>')}`) and continue with --resume "
                f"(nothing was written)")
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd, _read(fd)
        os.close(fd)  # the holder released and deleted that file meanwhile: lock the new one


@contextmanager
def run_lock(folder, log=print):
    """Hold `folder`'s lock for the body (creating the folder if needed, and removing it again
    if the body left it empty). Re-entrant within one process."""
    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder] += 1
        try:
            yield folder
        finally:
            _held[folder] -= 1
        return
    created = []
    p = folder
    while not p.exists():
        created.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    try:
        fd, previous = _acquire(path)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        old = parse_holder(previous)
        if old.get("pid") and old["pid"] != str(os.getpid()):
            log(f"note: taking over the lock of {folder} left by {describe(old)}, which no longer "
                f"holds it (it was killed or crashed)")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, holder_text().encode())
        _held[folder] = 1
        yield folder
    finally:
        _held.pop(folder, None)
        try:
            os.unlink(path)  # while still locked: see the module docstring
        except OSError:
            pass
        os.close(fd)
        _remove_empty(created)


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders `run_lock` created, deepest first, where nothing was written."""
    for p in created:
        try:
            p.rmdir()
        except OSError:
            return

