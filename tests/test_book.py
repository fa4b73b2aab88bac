import json
import os
import time
from pathlib import Path

import pytest

import nbformat
from nbformat.v4 import new_notebook

from hbn import book, variants
from hbn.study import RUNNER_ENV


def test_manifest_lists_every_notebook_once_with_config_parameters():
    items = book.manifest("quick", "fashion-mnist")
    names = [name for _, name, _ in items]
    assert len(names) == len(set(names)) and names[-1] == "index.ipynb"
    trains = [p for src, _, p in items if src == "train.md"]
    assert {p["model"] for p in trains} == {"alexnet", "b-alexnet", "sem-alexnet", "gran-hbn", "ag-hbn"}
    assert all((book.NOTEBOOKS / src).exists() for src, _, _ in items)
    from hbn.config import RunConfig
    fields = set(RunConfig.__dataclass_fields__)
    assert all(set(p) <= fields for p in trains)  # papermill parameters are config fields


def test_stored_signature_reads_notebook_metadata(tmp_path):
    nb = new_notebook()
    nb.metadata["hbn"] = {"signature": "abc"}
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert book._stored_signature(tmp_path / "x.ipynb") == "abc"
    assert book._stored_signature(tmp_path / "missing.ipynb") is None
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert book._stored_signature(tmp_path / "bad.ipynb") is None


def test_committed_smoke_notebooks_match_their_sources():
    """The nbval copies must be re-executed (`python -m hbn book --profile smoke`) after a
    notebook or the manifest changes; a stale copy would check old code."""
    refs = book.output_dir("smoke", references=True)
    for src, name, params in book.manifest("smoke", "synthetic", page_dir=refs):
        target = refs / name
        stored = json.loads(target.read_text())["metadata"]["hbn"]["signature"]
        # The part after "-" digests the smoke runs, which are made, not committed.
        assert stored.split("-")[0] == book.signature(book.NOTEBOOKS / src, params).split("-")[0], name


def test_notebooks_read_the_data_folder_the_runner_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("HBN_DATA", raising=False)
    assert book.notebook_data_dir("") == "../../data"  # the repository's data/, seen from book/<profile>/
    assert book.notebook_data_dir("", book.ROOT / "book" / "variants" / "x") == "../../../data"
    monkeypatch.chdir(tmp_path)
    assert book.notebook_data_dir("mydata") == str(tmp_path / "mydata")
    monkeypatch.setenv("HBN_DATA", "env-data")
    assert book.notebook_data_dir("") == str(tmp_path / "env-data")


def test_study_pages_go_stale_when_the_runs_or_the_code_they_read_change(tmp_path, monkeypatch):
    params = {"out_dir": "runs", "dataset": "synthetic", "profile": "smoke", "models": ["alexnet"],
              "seeds": [0]}
    run = tmp_path / "runs" / "synthetic" / "smoke" / "alexnet-s0"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    first = book.inputs_digest(tmp_path, params)
    assert first == book.inputs_digest(tmp_path, params)
    (run / "records.csv.gz").write_bytes(b"new records")
    second = book.inputs_digest(tmp_path, params)
    assert second != first
    monkeypatch.setattr(book, "code_digest", lambda: "changed code")
    assert book.inputs_digest(tmp_path, params) != second


def test_the_claims_page_goes_stale_when_another_datasets_run_lands(tmp_path):
    params = {"out_dir": "runs", "dataset": "synthetic", "profile": "smoke", "models": ["alexnet"],
              "seeds": [0], "claims_also": {"fashion-mnist": "quick", "synthetic": "smoke"}}
    first = book.inputs_digest(tmp_path, params)
    other = tmp_path / "runs" / "fashion-mnist" / "quick" / "ag-hbn-s0"  # one of its study's runs
    other.mkdir(parents=True)
    (other / "metrics.jsonl").write_text('{"epoch": 1}\n')
    second = book.inputs_digest(tmp_path, params)
    assert second != first
    (other / "records.csv.gz").write_bytes(b"landed")
    assert book.inputs_digest(tmp_path, params) != second
    params["claims_also"] = {}
    assert book.inputs_digest(tmp_path, params) == book.inputs_digest(tmp_path, {**params, "claims_also": None})


def test_unknown_and_reserved_overrides_fail_before_any_work():
    items = book.manifest("smoke", "synthetic")
    with pytest.raises(ValueError, match="unknown parameter.*nonsense"):
        variants.route_overrides(items, {"nonsense": 1})
    with pytest.raises(ValueError, match="cannot change model"):
        variants.route_overrides(items, {"model": "alexnet"})
    with pytest.raises(ValueError, match="bad run configuration"):
        variants.route_overrides(items, {"lr": -1.0})


def test_overrides_make_a_variant_with_its_own_folders():
    assert variants.variant_name("quick", {}) == ""
    v = variants.variant_name("quick", {"lr": 0.001})
    assert v.startswith("quick-") and v != variants.variant_name("quick", {"lr": 0.002})
    assert book.output_dir("quick", v) == book.ROOT / "book" / "variants" / v
    assert book.output_dir("smoke") != book.output_dir("smoke", references=True)


def test_hints_are_commands_that_train_exactly_the_missing_run():
    from hbn.cli import parser
    from hbn.config import make_config
    cfg = make_config("smoke", model="gran-hbn", dataset="synthetic", seed=2, lr=0.01,
                      out_dir="/somewhere/runs")
    argv = book.train_command(cfg).split()[3:]  # after "<python> -m hbn"
    args = parser().parse_args(argv)
    from hbn.cli import _config_from
    assert _config_from(args, args.model, args.dataset) == cfg and args.resume


def test_repository_button_needs_one_real_address():
    """Issue 19: the header's repository link comes from `_config.yml`'s `repository: url` alone,
    and the button is shown only for a real address (docs/_ext/hbn_cells.py)."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    import yaml
    root = Path(book.__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("hbn_cells", root / "docs" / "_ext" / "hbn_cells.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    for url, shown in (("", False), (None, False), ("https://github.com/OWNER/hbn", False),
                       ("https://github.com/someone/hbn", True), ("hbn", False)):
        config = SimpleNamespace(html_theme_options={"repository_url": url} if url is not None else {})
        ext.repository_button(None, config)
        assert config.html_theme_options["use_repository_button"] is shown, url
    config_yml = yaml.safe_load((root / "_config.yml").read_text())
    url = config_yml["repository"]["url"]
    assert url == "" or ext.real_repository(url), url  # empty (no button) or a real address
    assert "use_repository_button" not in config_yml.get("html", {})  # derived from the address only


def _scheduled(monkeypatch, tmp_path, items, jobs, fail=None, spans=None):
    """Run `book.execute`'s scheduler with a page stand-in that records when each page ran."""
    import threading
    spans, lock = {} if spans is None else spans, threading.Lock()
    monkeypatch.setattr("hbn.reuse.finished", lambda cfg: cfg.model != "untrained")
    monkeypatch.setattr(book, "train_config", lambda out, params: type("C", (), params))

    def page(i, src, name, params, n, out, force, retrain, log):
        start = time.monotonic()
        assert Path.cwd() == out.resolve() and os.environ.get(RUNNER_ENV) == "1"
        time.sleep(0.05)
        with lock:
            spans[name] = (start, time.monotonic())
        if name == fail:
            raise RuntimeError(f"{name} failed")
        return out / name
    monkeypatch.setattr(book, "_execute_page", page)
    here = Path.cwd()
    try:
        done = book.execute(items, tmp_path / "out", jobs=jobs)
    finally:
        assert Path.cwd() == here and RUNNER_ENV not in os.environ
    assert done == [tmp_path / "out" / name for _, name, _ in items]
    return spans


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_pages_run_at_once_but_trainings_latency_and_the_pages_reading_pages_alone(monkeypatch, tmp_path):
    def train(model):
        return "train.md", f"01-train-{model}.ipynb", {"model": model}

    def study(src):
        return src, src.replace(".md", ".ipynb"), {"models": ["gran-hbn"]}
    items = [train("untrained"), train("gran-hbn"), study("tau_sweep.md"), study("entropy.md"),
             study("beyond.md"), study("findings.md"), study("report.md"), study("overview.md")]
    spans = _scheduled(monkeypatch, tmp_path, items, jobs=2)
    parallel = ["01-train-gran-hbn.ipynb", "tau_sweep.ipynb", "entropy.ipynb", "findings.ipynb"]
    assert any(_overlap(spans[a], spans[b]) for a in parallel for b in parallel if a < b)
    for name in ["01-train-untrained.ipynb", "beyond.ipynb", "report.ipynb", "overview.ipynb"]:
        assert not any(_overlap(spans[name], spans[o]) for o in spans if o != name), name
    assert spans["01-train-untrained.ipynb"][1] <= min(spans[p][0] for p in parallel)  # trains first
    assert max(spans[p][1] for p in parallel) <= spans["beyond.ipynb"][0]
    assert spans["report.ipynb"][1] <= spans["overview.ipynb"][0]  # the first page, last
    one = _scheduled(monkeypatch, tmp_path, items, jobs=1)
    assert not any(_overlap(one[a], one[b]) for a in one for b in one if a < b)


def test_a_failed_page_stops_the_pages_not_yet_started(monkeypatch, tmp_path):
    items = [(f"p{i}.md", f"p{i}.ipynb", {"models": ["gran-hbn"]}) for i in range(8)]
    ran = {}
    with pytest.raises(RuntimeError, match="p0.ipynb failed"):
        _scheduled(monkeypatch, tmp_path, items, jobs=2, fail="p0.ipynb", spans=ran)
    assert "p0.ipynb" in ran and len(ran) <= 4, sorted(ran)  # those running or next, not all 8


def test_a_book_reads_its_profiles_dataset_unless_told_otherwise(tmp_path):
    from hbn.book import book_dataset
    from hbn.config import PROFILES
    # The tiny profile's book once resolved CIFAR-100 and fell back to Fashion-MNIST: it would
    # have trained the whole Tiny ImageNet study on the wrong data.
    assert book_dataset("tiny", None, tmp_path) == "tiny-imagenet-100"
    assert book_dataset("smoke", None, tmp_path) == "synthetic"
    assert book_dataset("tiny", "fashion-mnist", tmp_path) == "fashion-mnist"
    assert PROFILES["standard"]["dataset"] == "cifar100"  # resolved (or fallen back) by resolve_dataset
