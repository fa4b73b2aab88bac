"""Notebook plumbing: parameter cells papermill can parse (every RunConfig field a parameter of
the train notebook), unknown parameters as errors when papermill runs a page directly, the
cell tags that keep code out of the book, and the helpers of hbn.notebook."""
import dataclasses
import json
import logging
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from hbn import pages
from hbn.config import RunConfig
from hbn.notebook import check_parameters, effective_config, parameters, parse_grid

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.md"))


def _cells(path):
    return pages.read(path).cells


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_papermill_parses_every_parameter(path, caplog):
    caplog.set_level(logging.WARNING)
    found = pages.declared_parameters(path)
    cell = next(c for c in _cells(path) if "parameters" in c.metadata.get("tags", []))
    # Every assignment line of the parameters cell (but the _declared record) is a parameter.
    declared = [line.split("=")[0].strip() for line in cell.source.splitlines()
                if "=" in line and not line.startswith("globals()")]
    assert list(found) == declared
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]


def test_train_notebook_takes_every_run_config_field(tmp_path):
    import papermill as pm
    path = tmp_path / "train.ipynb"
    nbformat.write(pages.read(NOTEBOOKS / "train.md"), path)
    found = pm.inspect_notebook(str(path))  # (declared_parameters drops the defaults)
    assert list(found) == [f.name for f in dataclasses.fields(RunConfig)]
    concrete = {"model", "dataset", "profile", "seed"}
    assert all(found[k]["default"] == "None" for k in found if k not in concrete)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_cells_are_tagged_for_the_book(path):
    cells = _cells(path)
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert "remove-cell" in cells[i].metadata["tags"]
    check = cells[i + 1]  # papermill injects its cell between these two
    assert "page(globals()" in check.source and "remove-input" in check.metadata["tags"]
    for c in cells:
        tags = c.metadata.get("tags", [])
        if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT"):
            assert tags == ["remove-cell"]
        elif c.cell_type == "code":
            assert {"hide-input", "remove-input", "remove-cell"} & set(tags), c.source[:60]
    text = "".join(c.source for c in cells if c.cell_type == "markdown")
    assert "512" not in text, "a parameter value typed into the prose; glue it"


def _probe(tmp_path) -> Path:
    """The overview's parameters cell, then the page check (no study) and a cell that prints
    the parameters."""
    cells = _cells(NOTEBOOKS / "overview.md")
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    nb = nbformat.v4.new_notebook(cells=cells[i:i + 1] + [nbformat.v4.new_code_cell(
        "from hbn.notebook import page\nparams = page(globals(), 'probe', study=False)\n"
        "import json\nprint(json.dumps(params))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def test_papermill_rejects_unknown_parameters_and_passes_known_ones(tmp_path):
    pm = pytest.importorskip("papermill")
    probe = _probe(tmp_path)
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(probe), str(out), parameters={"decision_batch": 64, "seeds": [1, 2]},
                        kernel_name="python3", progress_bar=False)
    printed = json.loads(nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"])
    assert printed["decision_batch"] == 64 and printed["seeds"] == [1, 2]
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(probe), str(out), parameters={"decision_bath": 64},
                            kernel_name="python3", progress_bar=False)
    msg = str(err.value)
    assert "unknown parameter" in msg and "decision_bath" in msg and "did you mean decision_batch" in msg


def test_check_parameters_names_the_unknown_and_lists_the_known():
    import math
    declared = {"In", "dataset", "seeds"}
    g = {"In": [], "dataset": "x", "seeds": [0], "math": math, "_i3": "", "seed": 1}
    with pytest.raises(ValueError, match=r"seed \(did you mean seeds\?\).*takes: dataset, seeds"):
        check_parameters(g, declared)
    del g["seed"]
    assert check_parameters(g, declared) == {"dataset": "x", "seeds": [0]}  # modules, _names ignored
    assert parameters(g, declared) == {"dataset": "x", "seeds": [0]}


def test_parse_grid():
    paper = np.round(np.arange(0, 1.0001, 0.02), 2)
    assert np.array_equal(parse_grid(None, paper), paper)
    assert np.allclose(parse_grid("0:1:0.25", paper), [0, 0.25, 0.5, 0.75, 1.0])
    assert np.array_equal(parse_grid([0.5, 0.1], paper), [0.1, 0.5])
    for bad in ("0:1", "1:0:0.1", "0:1:0", [], ["x"]):
        with pytest.raises(ValueError):
            parse_grid(bad, paper)


def test_effective_config_resolves_weights_device_and_data(tmp_path):
    from hbn.config import make_config
    cfg = make_config("smoke", model="gran-hbn", lr=0.01)
    rows = {r[0]: r[1:] for r in effective_config(cfg, {"lr": 0.01, "fine_weight": None},
                                                   {"device": "cpu (x)", "precision": "fp32"},
                                                   tmp_path, "/data/here")}
    assert set(rows) == {f.name for f in dataclasses.fields(RunConfig)}
    assert rows["lr"] == (0.01, "parameter")
    assert rows["fine_weight"] == (1.5, "the model's default")  # Gran-HBN's w_fine, not None
    assert rows["device"][0] == "cpu (x) (fp32)" and rows["data_dir"][0] == "/data/here"
    assert rows["epochs"][1] == "profile" and rows["sem_alpha"][1] == "RunConfig default"


def test_toc_has_the_parts_in_reading_order_and_refuses_unplaced_pages(tmp_path, monkeypatch):
    from hbn import book
    from hbn.toc import write_toc
    monkeypatch.setattr("hbn.toc.ROOT", tmp_path)  # (hbn.paths.ROOT, as hbn.toc reads it)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# d\n")
    pages = [tmp_path / "book" / "quick" / n for _, n, _ in book.manifest("quick", "fashion-mnist")]
    write_toc("quick", pages)
    toc = (tmp_path / "_toc.yml").read_text()
    assert "root: book/quick/index\n" in toc
    captions = re.findall(r'caption: "(.*)"', toc)
    assert captions == ["Reproducibility", "Findings", "The paper's results", "Beyond the paper",
                        "Methods", "Appendix"]
    files = re.findall(r"file: (\S+)", toc)
    assert files[0] == "book/quick/report" and files[1] == "book/quick/findings"
    assert files[-1] == "docs/design"  # references.md absent
    assert files.index("book/quick/02-evaluate") < files.index("book/quick/01-train-alexnet-s0")
    with pytest.raises(ValueError, match="new-page"):
        write_toc("quick", pages + [tmp_path / "book" / "quick" / "new-page.ipynb"])


def test_committed_toc_is_the_published_profiles_and_names_committed_pages():
    """`make book` renders the committed top-level _toc.yml: it must be the published profile's
    (hbn.book.PUBLISHED, the Makefile's default) and every page it names must be committed."""
    from hbn import book
    root = NOTEBOOKS.parent
    toc = (root / "_toc.yml").read_text()
    assert f"root: book/{book.PUBLISHED}/index\n" in toc
    assert re.search(r"^PROFILE \?= (\S+)$", (root / "Makefile").read_text(), re.M)[1] == book.PUBLISHED
    files = re.findall(r"(?:file|root): (\S+)", toc)
    missing = [f for f in files if not any((root / f).with_suffix(x).exists() for x in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml names pages that are not in the repository: {missing}"
    assert all(f.startswith((f"book/{book.PUBLISHED}/", "docs/")) for f in files)  # one profile


def test_book_extension_removes_parameter_injected_and_check_cells():
    import importlib.util
    spec = importlib.util.spec_from_file_location("hbn_cells", NOTEBOOKS.parent / "docs" / "_ext" / "hbn_cells.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        code("x = 1", metadata={"tags": ["parameters"]}), code("x = 2", metadata={"tags": ["injected-parameters"]}),
        code("# NBVAL_CHECK_OUTPUT\nprint(x)"), code("plot()", metadata={"tags": ["hide-input"]})])

    class App:
        class env:
            @staticmethod
            def doc2path(doc):
                return doc + ".ipynb"
    source = [nbformat.writes(nb)]
    ext.tag_cells(App, "page", source)
    tags = [c["metadata"].get("tags", []) for c in json.loads(source[0])["cells"]]
    assert ["remove-cell" in t for t in tags] == [True, True, True, False]


def test_provenance_says_revision_machine_and_dirty_tree_in_red():
    from hbn.notebook import Provenance, provenance
    p = provenance()
    assert p.revision and p.machine["threads"] >= 1 and "UTC" in p.time
    dirty = Provenance("abc1234", ["hbn/x.py"], "t", {"cpu": "c", "cores": 2, "threads": 2, "gpu": "none"}, "fp32")
    md = dirty._repr_markdown_()
    assert "`abc1234`" in md and ":class: error" in md and "hbn/x.py" in md
    assert 'color:#c00' in dirty._repr_html_()
    assert ":class: error" not in Provenance("abc1234", [], "t", dirty.machine, "fp32")._repr_markdown_()


def test_every_dataset_has_model_shapes_for_the_cost_pages():
    from hbn.config import DATASETS
    from hbn.notebook import IN_CHANNELS, model_flops
    assert set(DATASETS) <= set(IN_CHANNELS)
    flops = model_flops("tiny-imagenet-100", ["gran-hbn"])
    assert len(flops["gran-hbn"]) == 3 and flops["gran-hbn"][0] < flops["gran-hbn"][-1]
