"""The README's page examples through papermill's API on the smoke profile (each writes only
into its own place, and nothing the repository commits changes), and parameter errors.
tests/test_readme.py runs every README example as written."""
import json
import subprocess

import papermill as pm
import pytest

from hbn import book, pages
from hbn.config import make_config
from hbn.train import train_or_reuse

MODELS = ["alexnet", "b-alexnet", "sem-alexnet", "gran-hbn", "ag-hbn"]


def _committed_state() -> str:
    """`git status` of what the repository tracks (empty when nothing committed changed)."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=book.ROOT,
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else "no git"


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory, synthetic, smoke_study):
    """The smoke study's runs, copied (the pages here may write nothing into the shared ones),
    and a third Gran-HBN seed."""
    import shutil
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(smoke_study / "synthetic" / "smoke", root / "synthetic" / "smoke",
                    ignore=shutil.ignore_patterns(".lock", "*.previous"))
    for model, seed in [(m, 0) for m in MODELS] + [("gran-hbn", 1), ("gran-hbn", 2)]:
        cfg = make_config("smoke", model=model, dataset="synthetic", seed=seed, out_dir=str(root))
        said = []
        train_or_reuse(cfg, synthetic, log=said.append)
        assert (seed == 2) != any("reusing the finished run" in line for line in said), said
    return root


def _page(src, tmp_path, runs_root, **params):
    out = tmp_path / f"out-{src}"
    pm.execute_notebook(pages.read(book.NOTEBOOKS / src), str(out), cwd=str(tmp_path), kernel_name="python3",
                        progress_bar=False, parameters=dict(dataset="synthetic", profile="smoke",
                                                            out_dir=str(runs_root), **params))
    return json.loads(out.read_text())


def _text(nb) -> str:
    return "\n".join(json.dumps(o) for c in nb["cells"] for o in c.get("outputs", []))


def test_example_1_tau_sweep_at_decision_batch_64_on_a_finer_grid(smoke_runs, tmp_path):
    before = _committed_state()
    nb = _page("tau_sweep.md", tmp_path, smoke_runs, decision_batch=64, tau_grid="0:1:0.01",
               seeds=[0, 1])
    text = _text(nb)
    assert "batch of 64 images" in text and "0 to 1, 101 values" in text  # the grid 0, 0.01, ..., 1
    assert (tmp_path / "figures" / "fig3-tau-sweep.png").exists()  # beside the page, not the runs
    assert _committed_state() == before


def test_example_4_an_analysis_page_on_some_seeds_only(smoke_runs, tmp_path):
    before = _committed_state()
    nb = _page("beyond.md", tmp_path, smoke_runs, seeds=[1, 2], latency_repeats=3)
    assert '"p_seeds"' in _text(nb) and '"1, 2"' in _text(nb)  # the parameters it ran with
    assert _committed_state() == before


def test_an_unknown_parameter_stops_a_page_run_by_papermill(smoke_runs, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="decision_bach"):
        _page("tau_sweep.md", tmp_path, smoke_runs, decision_bach=64)


def test_an_unknown_parameter_stops_the_runner_before_any_work(tmp_path, capsys):
    from hbn.cli import main
    assert main(["book", "--profile", "smoke", "--set", "decision_bach=64"]) == 2
    assert "unknown parameter(s) decision_bach" in capsys.readouterr().err
