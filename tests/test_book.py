import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from hbn import book


def test_manifest_lists_every_notebook_once_with_config_parameters():
    items = book.manifest("quick", "fashion-mnist")
    names = [name for _, name, _ in items]
    assert len(names) == len(set(names)) and names[-1] == "index.ipynb"
    trains = [p for src, _, p in items if src == "train.ipynb"]
    assert {p["model"] for p in trains} == {"alexnet", "b-alexnet", "sem-alexnet", "gran-hbn", "ag-hbn"}
    assert all((book.NOTEBOOKS / src).exists() for src, _, _ in items)
    from hbn.config import RunConfig
    fields = set(RunConfig.__dataclass_fields__)
    assert all(set(p) <= fields for p in trains)  # papermill parameters are config fields


def test_signature_ignores_cell_ids_but_not_sources_or_params(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    a, b = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(nb, a)
    nb.cells[0]["id"] = "different"
    nbformat.write(nb, b)
    assert book.signature(a, {"p": 1}) == book.signature(b, {"p": 1})
    assert book.signature(a, {"p": 1}) != book.signature(a, {"p": 2})
    nb.cells[0].source = "x = 2"
    nbformat.write(nb, b)
    assert book.signature(a, {"p": 1}) != book.signature(b, {"p": 1})


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
    for src, name, params in book.manifest("smoke", "synthetic"):
        target = book.output_dir("smoke") / name
        stored = json.loads(target.read_text())["metadata"]["hbn"]["signature"]
        # The part after "-" digests the smoke runs, which are made, not committed.
        assert stored.split("-")[0] == book.signature(book.NOTEBOOKS / src, params).split("-")[0], name


def test_notebooks_read_the_data_folder_the_runner_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("HBN_DATA", raising=False)
    assert book.notebook_data_dir("") == "../../data"  # the repository's data/, seen from book/<profile>/
    monkeypatch.chdir(tmp_path)
    assert book.notebook_data_dir("mydata") == str(tmp_path / "mydata")
    monkeypatch.setenv("HBN_DATA", "env-data")
    assert book.notebook_data_dir("") == str(tmp_path / "env-data")


def test_study_pages_go_stale_when_the_runs_they_read_change(tmp_path):
    params = {"out_dir": "runs", "dataset": "synthetic", "profile": "smoke", "models": ["alexnet"]}
    run = tmp_path / "runs" / "synthetic" / "smoke" / "alexnet-s0"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n')
    first = book.inputs_digest(tmp_path, params)
    assert first == book.inputs_digest(tmp_path, params)
    (run / "records.csv.gz").write_bytes(b"new records")
    assert book.inputs_digest(tmp_path, params) != first
    assert book.inputs_digest(tmp_path, {"model": "alexnet"}) == ""  # training pages: no inputs
