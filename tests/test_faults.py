"""Fault injection (issue 11): every fault a careful user met must end in a clear error that
names the file and the fix, and must leave the run folder as it was (or resumable).

Covered: two processes on one run folder (the lock), stale locks after SIGKILL, weights /
config / records identity, damaged records, full disks (ENOSPC: injected, and a real tmpfs
when root), permissions, damaged JSON, absurd configuration values, `models: []`, divergence;
and the guarantees that already held: kill/resume identity, atomic writes, corrupt data files,
corrupt checkpoints. Smoke profile, synthetic data, one thread, few epochs.
"""
import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hbn import identity, records, runs
from hbn.cli import main
from hbn.config import RunConfig, make_config
from hbn.evaluate import evaluate
from hbn.lock import LOCK_FILE, RunLocked, run_lock
from hbn.records import RecordsError, check_records, load_records
from hbn.identity import IdentityError
from hbn.runs import DiskFull, TrainingDiverged
from hbn.study import load_study
from hbn.train import train

ROOT = Path(__file__).resolve().parent.parent
QUIET = dict(progress=False, log=lambda *_: None)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the OMP_NUM_THREADS=1 subprocesses
    yield
    torch.set_num_threads(n)


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "hbn", *args], env=_env(), capture_output=True,
                          text=True, timeout=300, **kw)


def _no_tmp(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def finished(tmp_path_factory, synthetic):
    """A finished, evaluated smoke run of the profile's own settings (so `load_study` finds it)."""
    out = tmp_path_factory.mktemp("finished")
    cfg = make_config("smoke", model="gran-hbn", out_dir=str(out / "runs"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    run = train(cfg, synthetic, **QUIET)
    evaluate(run, synthetic)
    torch.set_num_threads(n)
    return out / "runs", run.relative_to(out / "runs")


@pytest.fixture
def run_copy(finished, tmp_path):
    """A private copy of the finished run: (out_dir, run folder)."""
    src, rel = finished
    shutil.copytree(src, tmp_path / "runs")
    return tmp_path / "runs", tmp_path / "runs" / rel


# --- 1. the per-run lock ------------------------------------------------------------------------

def test_a_second_training_on_a_locked_run_fails_at_once_naming_the_holder(tmp_path):
    cfg = make_config("smoke", model="gran-hbn", epochs=1, out_dir=str(tmp_path))
    folder = runs.run_dir(cfg)
    with run_lock(folder):
        assert f"pid {os.getpid()}" in (folder / LOCK_FILE).read_text()
        t0 = time.time()
        p = _cli("train", "--model", "gran-hbn", "--profile", "smoke", "--epochs", "1",
                 "--out-dir", str(tmp_path), "--no-progress")
        assert p.returncode == 2, p.stderr
        assert f"PID {os.getpid()}" in p.stderr and "in use" in p.stderr
        assert p.stderr.startswith("error: ") and p.stderr.count("\n") == 1
        assert time.time() - t0 < 120  # fails at once (the time is interpreter + torch import)
        assert [q.name for q in folder.iterdir()] == [LOCK_FILE]  # nothing was written
    assert not folder.exists()  # released, and the folder it created was empty: removed


def test_evaluate_waits_for_no_one_and_names_the_other_process(run_copy):
    out, run = run_copy
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from hbn.lock import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)", str(run)],
        env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (run / "records.csv.gz").read_bytes()
        with pytest.raises(RunLocked, match=f"PID {holder.pid} "):
            evaluate(run)
        assert (run / "records.csv.gz").read_bytes() == before
        assert main(["evaluate", str(run)]) == 2
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL leaves the file, but the kernel dropped the lock: the next process takes it over
    assert f"pid {holder.pid}" in (run / LOCK_FILE).read_text()
    lines = []
    with run_lock(run, log=lines.append):
        pass
    assert f"PID {holder.pid}" in lines[0] and "no longer holds it" in lines[0]
    assert not (run / LOCK_FILE).exists()


@pytest.mark.slow  # real processes, real training: `make test-slow`
def test_kill_then_resume_gives_bit_identical_weights_and_takes_over_the_stale_lock(tmp_path, synthetic):
    # Reference: an uninterrupted run (in this process, one thread like the subprocess).
    ref = train(make_config("smoke", model="gran-hbn", epochs=3, out_dir=str(tmp_path / "ref")),
                synthetic, **QUIET)
    cfg = make_config("smoke", model="gran-hbn", epochs=3, out_dir=str(tmp_path / "killed"))
    folder = runs.run_dir(cfg)
    p = subprocess.Popen([sys.executable, "-m", "hbn", "train", "--model", "gran-hbn", "--profile",
                          "smoke", "--epochs", "3", "--out-dir", str(tmp_path / "killed"),
                          "--no-progress"], env=_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (folder / "checkpoint.pt").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (folder / "model.pt").exists(), "the run finished before the kill; test invalid"
    assert f"pid {p.pid}" in (folder / LOCK_FILE).read_text()
    lines = []
    train(cfg, synthetic, resume=True, progress=False, log=lines.append)
    assert any(f"PID {p.pid}" in line and "taking over" in line for line in lines)
    wa, wb = (torch.load(r / "model.pt")["model"] for r in (ref, folder))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [m["epoch"] for m in runs.read_metrics(folder)] == [1, 2, 3]
    assert not (folder / LOCK_FILE).exists() and not _no_tmp(folder)


# --- 2. identity: weights, config, records ------------------------------------------------------

def test_weights_carry_their_configuration_and_its_digest(run_copy):
    _, run = run_copy
    state = torch.load(run / "model.pt")
    cfg = runs.load_config(run)
    assert RunConfig.from_dict(state["config"]) == cfg
    assert state["config_digest"] == identity.config_digest(cfg) == identity.config_digest(state["config"])
    # where a run lives is not part of the digest; what it computes is
    assert identity.config_digest(make_config("smoke", model="gran-hbn", out_dir="x", device="cpu")) \
        == identity.config_digest(cfg)
    assert identity.config_digest(make_config("smoke", model="gran-hbn", lr=0.5)) != identity.config_digest(cfg)


def test_evaluate_refuses_weights_of_another_configuration(run_copy, capsys):
    out, run = run_copy
    before = (run / "records.csv.gz").read_bytes()
    stored = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**stored, "epochs": 4, "batch_size": 32}))
    with pytest.raises(IdentityError, match=r"epochs: 6 in model.pt, 4 in config.json.*batch_size"
                                            r".*config.json's settings do not belong in this folder"):
        evaluate(run)
    assert main(["evaluate", str(run)]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert (run / "records.csv.gz").read_bytes() == before  # the committed records are untouched
    # the case: stale weights (1 epoch) beside the folder's own config.json
    (run / "config.json").write_text(json.dumps(stored))
    state = torch.load(run / "model.pt")
    stale = {**state, "config": {**state["config"], "epochs": 1}}
    stale["config_digest"] = identity.config_digest(stale["config"])
    torch.save(stale, run / "model.pt")
    with pytest.raises(IdentityError, match=r"epochs: 1 in model.pt, 6 in config.json") as e:
        evaluate(run)
    assert (f"`python -m hbn train --model gran-hbn --profile smoke --dataset synthetic --seed 0 "
            f"--out-dir {out}`") in str(e.value)
    assert (run / "records.csv.gz").read_bytes() == before
    # a model.pt whose stored configuration no longer matches its digest is damaged
    state["config"]["lr"] = 0.5
    torch.save(state, run / "model.pt")
    with pytest.raises(IdentityError, match="damaged"):
        evaluate(run)


def test_train_refuses_a_folder_whose_config_differs_with_or_without_weights(tmp_path, synthetic):
    cfg = make_config("smoke", model="alexnet", epochs=1, out_dir=str(tmp_path))
    folder = runs.run_dir(cfg)
    folder.mkdir(parents=True)
    other = {**cfg.to_dict(), "weight_decay": 0.1}
    (folder / "config.json").write_text(json.dumps(other))  # no weights, no checkpoint
    written = (folder / "config.json").read_text()
    for resume in (False, True):
        with pytest.raises(IdentityError, match=r"weight_decay: 0.1 in config.json, 0.0005 in this command"):
            train(cfg, synthetic, resume=resume, **QUIET)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]
    assert (folder / "config.json").read_text() == written


def test_records_carry_the_weights_digest_and_the_study_checks_it(run_copy):
    out, run = run_copy
    side = json.loads((run / "records.json").read_text())
    assert side["weights_sha256"] == identity.file_sha256(run / "model.pt")
    assert side["records_sha256"] == identity.file_sha256(run / "records.csv.gz")
    assert side["images"] == 720 and side["exits"] == [1, 2, 3]
    study = load_study(str(out), "synthetic", "smoke", ["gran-hbn"])
    assert len(study.run("gran-hbn").records) == 3 * 720
    # weights trained again after the evaluation: the records no longer belong to them
    state = torch.load(run / "model.pt")
    state["model"]["exits.0.classifiers.fine.bias"] += 1.0
    torch.save(state, run / "model.pt")
    with pytest.raises(RecordsError, match="came from other weights"):
        load_study(str(out), "synthetic", "smoke", ["gran-hbn"])
    (run / "model.pt").unlink()  # weights absent (not committed): nothing to compare
    load_study(str(out), "synthetic", "smoke", ["gran-hbn"])
    # records replaced after the evaluation
    df = pd.read_csv(run / "records.csv.gz")
    df.loc[0, "fine_entropy"] = df.loc[0, "fine_entropy"] + 0.01
    df.to_csv(run / "records.csv.gz", index=False)
    with pytest.raises(RecordsError, match="replaced or edited"):
        load_study(str(out), "synthetic", "smoke", ["gran-hbn"])
    (run / "records.json").unlink()  # records written before records.json existed: accepted
    load_study(str(out), "synthetic", "smoke", ["gran-hbn"])


# --- 3. records validated on read ---------------------------------------------------------------

def _rewrite(run: Path, df: pd.DataFrame) -> None:
    df.to_csv(run / "records.csv.gz", index=False, compression="gzip")


CORRUPTIONS = {
    "two thirds of the images": (lambda df: df[df.image < 480], "holds 480 of the 720 test images"),
    "a duplicated row": (lambda df: pd.concat([df, df.iloc[[5]]]), "appears more than once"),
    "a missing row": (lambda df: df.drop(index=7), "has 2 of the 3 exit rows"),
    "inf entropy": (lambda df: df.assign(fine_entropy=df.fine_entropy.where(df.index != 3, np.inf)),
                    "fine_entropy of exit 1 holds non-finite"),
    "NaN entropy under a head": (lambda df: df.assign(coarse_entropy=df.coarse_entropy.where(df.index != 4)),
                                 "coarse_entropy of exit 2 holds non-finite"),
    "a label out of range": (lambda df: df.assign(fine_true=df.fine_true.where(df.image != 9, 99)),
                             "fine_true has labels out of range"),
    "a missing column": (lambda df: df.drop(columns="coarse_maxprob"), "wrong columns"),
    "text in a number column": (lambda df: df.assign(exit=df.exit.astype(str).where(df.index != 2, "x")),
                                "column exit holds missing or non-integer values"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_damaged_records_are_refused_naming_file_and_fault(run_copy, name):
    _, run = run_copy
    change, message = CORRUPTIONS[name]
    _rewrite(run, change(pd.read_csv(run / "records.csv.gz")))
    with pytest.raises(RecordsError, match=message) as e:
        load_records(run)
    assert str(run / "records.csv.gz") in str(e.value) and "python -m hbn evaluate" in str(e.value)


def test_a_truncated_last_row_and_a_truncated_gzip_are_named(run_copy, capsys):
    out, run = run_copy
    path = run / "records.csv.gz"
    text = gzip.decompress(path.read_bytes()).decode()
    head, last = text.rstrip("\n").rsplit("\n", 1)
    path.write_bytes(gzip.compress((head + "\n" + ",".join(last.split(",")[:3])).encode()))
    with pytest.raises(RecordsError, match=r"missing or non-integer values \(first at data row 2160\)"):
        load_records(run)
    raw = gzip.compress(text.encode())
    for damaged in (raw[: len(raw) // 2], b"not a gzip file"):
        path.write_bytes(damaged)
        with pytest.raises(RecordsError, match="unreadable or truncated") as e:
            load_records(run)
        assert str(path) in str(e.value) and f"python -m hbn evaluate {run}" in str(e.value)


def test_records_without_records_json_are_checked_against_the_dataset(tmp_path):
    (tmp_path / "config.json").write_text(make_config("quick", dataset="fashion-mnist").to_json())
    expect = records.expectations(tmp_path)
    assert expect["images"] == 10_000 and len(expect["fine_to_coarse"]) == 10
    rows = pd.DataFrame({"image": [0, 1], "exit": [3, 3], "fine_true": [0, 1], "coarse_true": [0, 1],
                         "fine_pred": [0, 1], "fine_pred_coarse": [0, 1], "coarse_pred": [-1, -1],
                         "fine_entropy": [0.1, 0.2], "coarse_entropy": [np.nan] * 2,
                         "fine_maxprob": [0.9, 0.8], "coarse_maxprob": [np.nan] * 2,
                         "sem_prob_fine": [np.nan] * 2})
    with pytest.raises(RecordsError, match="holds 2 of the 10,000 test images"):
        check_records(rows, "r.csv.gz", expect)
    with pytest.raises(RecordsError, match="coarse_true does not match"):
        check_records(rows.assign(image=[0, 0], exit=[1, 3], fine_true=[2, 2], coarse_true=[2, 2]),
                      "r", {"fine_to_coarse": expect["fine_to_coarse"]})
    with pytest.raises(RecordsError, match="appears more than once"):
        records.as_arrays(pd.concat([rows, rows]))


# --- 4. operating-system faults, damaged JSON, absurd values -----------------------------------

def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_a_checkpoint_names_the_folder_and_keeps_the_last_one(tmp_path, synthetic, monkeypatch):
    cfg = make_config("smoke", model="gran-hbn", epochs=2, out_dir=str(tmp_path))
    run = train(cfg, synthetic, stop_after=1, **QUIET)
    good = (run / "checkpoint.pt").read_bytes()
    monkeypatch.setattr(torch, "save", _enospc)
    with pytest.raises(DiskFull, match=rf"disk holding {run} is full \(about .* needed, .* free\) "
                                       rf"while writing checkpoint.pt") as e:
        train(cfg, synthetic, resume=True, **QUIET)
    assert e.value.errno == errno.ENOSPC and not _no_tmp(tmp_path)
    assert (run / "checkpoint.pt").read_bytes() == good
    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", _enospc)  # the disk fills while the bytes go out
    with pytest.raises(DiskFull):
        train(cfg, synthetic, resume=True, **QUIET)
    assert (run / "checkpoint.pt").read_bytes() == good and not _no_tmp(tmp_path)
    monkeypatch.undo()
    train(cfg, synthetic, resume=True, **QUIET)  # space again: the run continues from epoch 1
    assert [m["epoch"] for m in runs.read_metrics(run)] == [1, 2] and (run / "model.pt").exists()


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch, "save", _enospc)
    assert main(["train", "--model", "alexnet", "--profile", "smoke", "--epochs", "1",
                 "--out-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the disk holding ") and err.count("\n") == 1 and "--resume" in err
    assert not _no_tmp(tmp_path)


def test_a_real_full_disk(tmp_path, synthetic):
    """A 3 MB tmpfs (root only): the first checkpoint (about 6 MB) does not fit."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                                            str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("needs root and tmpfs to mount a small file system")
    try:
        cfg = make_config("smoke", model="alexnet", epochs=1, out_dir=str(mnt))
        with pytest.raises(DiskFull, match=r"is full \(about 6\.\d MB needed, .* free\)"):
            train(cfg, synthetic, **QUIET)
        assert not _no_tmp(mnt)
        assert shutil.disk_usage(mnt).used < 1 << 20  # the partial file's space was given back
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_disk_while_writing_records_or_json_leaves_the_old_files(run_copy, synthetic, monkeypatch):
    _, run = run_copy
    (run / "records.csv.gz").unlink()  # records still to write (a finished run's are never rewritten)
    before = {n: (run / n).read_bytes() for n in ("records-val.csv.gz", "records.json", "meta.json")}
    monkeypatch.setattr(pd.DataFrame, "to_csv", _enospc)
    with pytest.raises(DiskFull, match=rf"disk holding {run} is full .*records.csv.gz"):
        evaluate(run, synthetic)
    monkeypatch.undo()
    assert not (run / "records.csv.gz").exists()  # no half file
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(DiskFull, match="while writing meta.json"):
        runs.write_json(run / "meta.json", {"x": 1})
    monkeypatch.undo()
    assert {n: (run / n).read_bytes() for n in before} == before
    assert not _no_tmp(run) and not (run / ".records.tmp").exists()


def test_permission_errors_name_the_file_and_the_fix(run_copy, monkeypatch, capsys):
    _, run = run_copy

    def denied(path, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr("hbn.runs.open", denied, raising=False)
    with pytest.raises(PermissionError, match=rf"cannot write {run / 'meta.json'} \(permission denied\).*chmod"):
        runs.write_json(run / "meta.json", {})
    monkeypatch.undo()
    # raw OS errors from anywhere reach the CLI as one line with the file and a fix
    for err, text in ((PermissionError(errno.EACCES, "Permission denied", "/x/y"),
                       "cannot write or read /x/y (Permission denied)"),
                      (OSError(errno.EROFS, "Read-only file system", "/x/r"),
                       "cannot write or read /x/r (Read-only file system)"),
                      (OSError(errno.EIO, "Input/output error", "/x/z"), "Input/output error on /x/z")):
        monkeypatch.setattr("hbn.cli.cmd_models", lambda args, e=err: (_ for _ in ()).throw(e))
        assert main(["models"]) == 2
        out = capsys.readouterr().err
        assert out.startswith("error: " + text) and out.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_run_folder(run_copy, capsys):
    _, run = run_copy
    run.chmod(0o555)
    try:
        assert main(["evaluate", str(run)]) == 2
        assert str(run) in capsys.readouterr().err
    finally:
        run.chmod(0o755)


@pytest.mark.parametrize("name, content, fix", [
    ("config.json", "", "is empty"), ("config.json", '{"model": "gran', "not valid JSON"),
    ("meta.json", "", "is empty"), ("metrics.jsonl", '{"epoch": 1}\n{"epo', "line 2 of"),
])
def test_damaged_json_names_the_file_and_the_fix(run_copy, name, content, fix, capsys):
    out, run = run_copy
    (run / name).write_text(content)
    with pytest.raises(ValueError, match=fix) as e:
        load_study(str(out), "synthetic", "smoke", ["gran-hbn"])
    assert str(run / name) in str(e.value)
    assert any(w in str(e.value) for w in ("restore", "delete"))
    if name == "config.json":
        assert main(["evaluate", str(run)]) == 2
        err = capsys.readouterr().err
        assert str(run / name) in err and err.count("\n") == 1


@pytest.mark.parametrize("field, value, message", [
    ("width", float("inf"), "width must be a finite number"),
    ("lr", float("nan"), "lr must be a finite number"),
    ("exit_weights", (1.0, float("inf"), 0.6), "exit_weights must be finite numbers"),
    ("epochs", float("inf"), "epochs must be a whole number"),
    ("epochs", 2.5, "epochs must be a whole number"),
    ("width", 65.0, "width must be <= 64"),
    ("epochs", 10_001, "epochs must be <= 10,000"),
    ("batch_size", 65_537, "batch_size must be <= 65,536"),
    ("eval_batch_size", 10 ** 9, "eval_batch_size must be <= 65,536"),
    ("fast", "yes", "fast must be a bool"),
])
def test_absurd_configuration_values_are_rejected(field, value, message):
    with pytest.raises(ValueError, match=message):
        make_config("smoke", **{field: value})


def test_absurd_values_on_the_command_line(tmp_path, capsys):
    assert main(["train", "--profile", "smoke", "--width", "1e9", "--out-dir", str(tmp_path)]) == 2
    assert "width must be <= 64" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_an_empty_model_list_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        load_study(str(tmp_path), "synthetic", "smoke", [])


# --- 5. divergence ------------------------------------------------------------------------------

def test_a_huge_learning_rate_stops_training_with_a_clear_error(tmp_path, synthetic, capsys):
    assert main(["train", "--model", "gran-hbn", "--profile", "smoke", "--epochs", "2",
                 "--lr", "1e6", "--out-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "epoch 1" in err and "--lr 100000" in err
    [run] = (tmp_path / "synthetic").glob("smoke-*/gran-hbn-s0")
    assert runs.read_metrics(run) == [] and not (run / "checkpoint.pt").exists()
    assert not (run / "records.csv.gz").exists()


def test_divergence_keeps_the_last_good_checkpoint_resumable(tmp_path, synthetic, monkeypatch):
    import hbn.train as T
    ref = train(make_config("smoke", model="gran-hbn", epochs=2, out_dir=str(tmp_path / "ref")),
                synthetic, **QUIET)
    cfg = make_config("smoke", model="gran-hbn", epochs=2, out_dir=str(tmp_path / "nan"))
    real, calls = T.make_step, []

    def make_step(*a, **k):  # the second epoch's steps report a NaN loss
        step = real(*a, **k)
        calls.append(1)
        return step if len(calls) == 1 else (lambda *b: step(*b) * float("nan"))
    monkeypatch.setattr(T, "make_step", make_step)
    with pytest.raises(TrainingDiverged, match=r"epoch 2 is nan at lr 0.001.*checkpoint.pt \(epoch 1\) "
                                               r"is intact and resumable.*--lr 0.0001"):
        train(cfg, synthetic, **QUIET)
    run = runs.run_dir(cfg)
    assert torch.load(run / "checkpoint.pt")["epoch"] == 1
    assert [m["epoch"] for m in runs.read_metrics(run)] == [1] and not (run / "model.pt").exists()
    monkeypatch.undo()
    train(cfg, synthetic, resume=True, **QUIET)
    wa, wb = (torch.load(r / "model.pt")["model"] for r in (ref, run))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# --- 6. guarantees that already held ------------------------------------------------------------

def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "meta.json"
    runs.write_json(path, {"a": 1})
    for fault in (OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()):
        def fail(*_a, fault=fault):
            raise fault
        monkeypatch.setattr(os, "replace", fail)
        with pytest.raises((OSError, KeyboardInterrupt)):
            runs.write_json(path, {"a": 2})
        monkeypatch.undo()
        assert json.loads(path.read_text()) == {"a": 1} and not _no_tmp(tmp_path)
    runs.append_line(tmp_path / "m.jsonl", '{"epoch": 1}')
    assert (tmp_path / "m.jsonl").read_text() == '{"epoch": 1}\n'


def test_corrupt_checkpoint_and_weights_are_reported(run_copy, synthetic, tmp_path):
    _, run = run_copy
    (run / "model.pt").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match=r"model.pt is corrupt or unreadable"):
        evaluate(run, synthetic)
    cfg = make_config("smoke", model="alexnet", epochs=2, out_dir=str(tmp_path / "ckpt"))
    r = train(cfg, synthetic, stop_after=1, **QUIET)
    (r / "checkpoint.pt").write_bytes((r / "checkpoint.pt").read_bytes()[:1000])
    with pytest.raises(RuntimeError, match="corrupt"):
        train(cfg, synthetic, resume=True, **QUIET)


def test_corrupt_data_files_are_named(tmp_path):
    from hbn.data import FASHION_MNIST_FILES, DataCorrupt, load_dataset
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in FASHION_MNIST_FILES:
        (folder / name).write_bytes(gzip.compress(b"\0" * 64))
    with pytest.raises(DataCorrupt, match=r"failed its checksum"):
        load_dataset("fashion-mnist", tmp_path, download=False)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 64)[:20])
    with pytest.raises(DataCorrupt, match=r"train-images-idx3-ubyte.gz is truncated"):
        load_dataset("fashion-mnist", tmp_path, download=False)
