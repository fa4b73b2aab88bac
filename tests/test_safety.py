"""Issue 22: a finished run is immutable (committed or not, with or without weights), run files
never execute code, and page runs write only where they are told. Each case ran into the
fault before the fix: committed logs emptied, a pickled `os.system` run, committed figures
rewritten."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import torch

from hbn import pages, runs
from hbn.cli import main
from hbn.config import make_config
from hbn.evaluate import evaluate
from hbn.train import train

ROOT = Path(__file__).resolve().parent.parent
QUIET = dict(progress=False, log=lambda *_: None)
COMMITTED = ROOT / "runs" / "fashion-mnist" / "standard" / "gran-hbn-s0"


def _git_status() -> str:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else "no git"


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def done(tmp_path_factory, synthetic):
    """A finished, evaluated smoke run with its weights."""
    cfg = make_config("smoke", model="gran-hbn", epochs=2,
                      out_dir=str(tmp_path_factory.mktemp("done") / "runs"))
    run = train(cfg, synthetic, **QUIET)
    evaluate(run, synthetic)
    return cfg, run


@pytest.fixture
def copy(done, tmp_path):
    """A private copy of `done` (cfg, folder), free to damage."""
    cfg, run = done
    out = tmp_path / "runs"
    shutil.copytree(Path(cfg.out_dir), out)
    cfg = make_config("smoke", model="gran-hbn", epochs=2, out_dir=str(out))
    return cfg, runs.run_dir(cfg)


def _train_args(cfg, *extra):
    return ["train", "--model", cfg.model, "--profile", cfg.profile, "--dataset", cfg.dataset,
            "--epochs", str(cfg.epochs), "--out-dir", cfg.out_dir, "--no-progress", *extra]


@pytest.mark.skipif(not COMMITTED.exists(), reason="the committed standard runs are not here")
def test_the_readme_train_command_never_touches_a_committed_run(capsys):
    """Case 1: the README's `train` example on a committed (finished, weightless) run."""
    before, files = _git_status(), _files(COMMITTED)
    rc = main(["train", "--model", "gran-hbn", "--dataset", "fashion-mnist", "--profile",
               "standard", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "finished; use `--retrain` to re-make it" in err and ".previous" in err
    assert main(["train", "--model", "gran-hbn", "--dataset", "fashion-mnist", "--profile",
                 "standard", "--no-progress", "--resume"]) == 0
    assert "finished; nothing to resume" in capsys.readouterr().out
    assert _files(COMMITTED) == files and _git_status() == before


@pytest.mark.skipif(not COMMITTED.exists(), reason="the committed standard runs are not here")
def test_evaluate_on_a_committed_run_shows_its_records_and_suggests_no_overwrite(capsys):
    before, files = _git_status(), _files(COMMITTED)
    assert main(["evaluate", str(COMMITTED)]) == 0
    out = capsys.readouterr().out
    assert "from its stored records" in out and "never committed" in out and "fine" in out
    assert _files(COMMITTED) == files and _git_status() == before


def test_a_finished_run_with_weights_is_verified_not_rewritten(copy, synthetic, capsys):
    cfg, run = copy
    files = _files(run)
    assert main(_train_args(cfg)) == 2
    assert "finished; use `--retrain`" in capsys.readouterr().err
    assert main(_train_args(cfg, "--resume")) == 0  # a no-op that says so: no "epochs 3..2"
    out = capsys.readouterr().out
    assert "nothing to resume" in out and "epochs 3..2" not in out
    assert main(["evaluate", str(run)]) == 0
    assert "checked against a fresh evaluation" in capsys.readouterr().out
    assert _files(run) == files


def test_retrain_keeps_the_old_folder_as_previous(copy, synthetic):
    cfg, run = copy
    old = _files(run)
    train(cfg, synthetic, retrain=True, **QUIET)
    assert _files(run.with_name(run.name + ".previous")) == old
    assert (run / "model.pt").exists()


def test_a_log_without_a_checkpoint_is_never_truncated(copy, synthetic):
    cfg, run = copy
    for f in ("model.pt", "checkpoint.pt", "records.csv.gz"):
        (run / f).unlink()
    log = (run / "metrics.jsonl").read_bytes()
    for resume in (False, True):
        with pytest.raises(FileExistsError, match="no checkpoint.pt to continue from.*--retrain"):
            train(cfg, synthetic, resume=resume, **QUIET)
    assert (run / "metrics.jsonl").read_bytes() == log


class _Payload:
    """A pickle that would create `marker` when unpickled (what a hostile file does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["checkpoint.pt", "model.pt"])
def test_a_checkpoint_that_would_run_code_is_refused_unrun(copy, tmp_path, capsys, name):
    cfg, run = copy
    marker = tmp_path / "PWNED"
    state = {"epoch": 1, "post": False, "config": cfg.to_dict(), "model": _Payload(marker),
             "optimizer": {}}
    torch.save(state, run / name)  # torch.save pickles the payload's __reduce__ as is
    if name == "checkpoint.pt":
        for f in ("model.pt", "records.csv.gz"):
            (run / f).unlink()
        args = _train_args(cfg, "--resume")
    else:
        (run / "records.csv.gz").unlink()
        args = ["evaluate", str(run)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert f"{run / name} is not plain data: loading it would call posix.system" in err
    assert err.count("\n") == 1


def test_a_checkpoint_without_its_config_is_a_one_line_error(copy, capsys):
    cfg, run = copy
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    del state["config"]
    torch.save(state, run / "checkpoint.pt")
    for f in ("model.pt", "records.csv.gz"):
        (run / f).unlink()
    assert main(_train_args(cfg, "--resume")) == 2
    err = capsys.readouterr().err
    assert f"{run / 'checkpoint.pt'} lacks 'config'" in err and err.count("\n") == 1


def test_a_page_run_by_hand_in_a_committed_folder_is_refused(tmp_path):
    """Case 3: the old README example ran papermill inside book/quick and rewrote its figures."""
    page_dir = ROOT / "book" / "quick"
    figures = {p.name: p.read_bytes() for p in (page_dir / "figures").glob("*.png")}
    assert figures, "book/quick/figures is committed"
    with pytest.raises(pm.PapermillExecutionError, match="whose figures/ are committed"):
        pm.execute_notebook(pages.read(ROOT / "notebooks" / "tau_sweep.md"), str(tmp_path / "o.ipynb"),
                            cwd=str(page_dir), kernel_name="python3", progress_bar=False,
                            parameters=dict(dataset="fashion-mnist", profile="quick",
                                            out_dir="../../runs", decision_batch=64))
    assert {p.name: p.read_bytes() for p in (page_dir / "figures").glob("*.png")} == figures


def test_bad_seeds_fail_before_any_page_trains(tmp_path, capsys, monkeypatch):
    """Case 5: `--set seeds=[0, 1.5]` trained five pages before the error."""
    monkeypatch.setenv("HBN_VARIANTS", str(tmp_path / "variants"))
    assert main(["book", "--profile", "smoke", "--set", "seeds=[0, 1.5]", "--out-dir",
                 str(tmp_path / "runs")]) == 2
    assert "seed must be a whole number, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "variants").exists()
    assert main(["book", "--profile", "smoke", "--set", "tau_grid=1:0:0.1", "--out-dir",
                 str(tmp_path / "runs")]) == 2
    assert "tau_grid: grid '1:0:0.1': step must be > 0 and stop >= start" in capsys.readouterr().err


@pytest.mark.parametrize("width", ["inf", "0", "1e400"])
def test_models_rejects_a_bad_width_in_one_line(width):
    out = subprocess.run([sys.executable, "-m", "hbn", "models", "--width", width], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--width" in out.stderr


def test_a_missing_seed_names_the_train_command_not_evaluate(done):
    from hbn.study import load_study
    cfg, _ = done
    with pytest.raises(FileNotFoundError, match=r"no run of gran-hbn seed 7 .*`python -m hbn train"
                                                r" --model gran-hbn .* --seed 7 .*--epochs 2`"):
        load_study(cfg.out_dir, "synthetic", "smoke", ["gran-hbn"], seeds=[0, 7],
                   overrides={"epochs": 2})


def test_retrain_never_moves_a_folder_another_process_is_training(copy):
    from hbn.lock import RunLocked
    _, run = copy
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom hbn.lock import run_lock\n"
                               f"with run_lock({str(run)!r}, log=lambda *_: None):\n"
                               "    print('held', flush=True)\n    time.sleep(60)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked):
            runs.set_aside(run)
        assert run.exists() and not run.with_name(run.name + ".previous").exists()
    finally:
        holder.kill()
