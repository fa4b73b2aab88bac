"""The book's pages as text notebooks (issue 20): every page is a MyST Markdown file that
jupytext reads and papermill executes, and it glues the same values as the page the old
`scripts/make_notebooks.py` generated (scalars, text and table sizes, not bytes)."""
import json
import os
from pathlib import Path

import pytest

from hbn import book, pages

ROOT = Path(__file__).resolve().parent.parent
# Glued values that measure the machine, not the analysis: seconds and images/s of this run.
TIMED = ("seconds", "latency", "speed", "_s_", "time", "img_per_s", "ms", "train_total")
GLUE = "application/papermill.record/"


def glued(nb: dict) -> dict:
    """{name: value} of what a notebook glues (myst-nb's scrapbook outputs): a figure as
    "figure", a MyST table as its number of rows, markdown and text as they read (the text of
    a Markdown object is its repr: its markdown is compared), timings left out (`TIMED`)."""
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None or any(t in name for t in TIMED):
                continue
            data = {k[len(GLUE):]: v for k, v in o.get("data", {}).items() if k.startswith(GLUE)}
            text = data.get("text/markdown", data.get("text/plain", ""))
            text = "".join(text) if isinstance(text, list) else str(text)
            if "image/png" in data:
                out[name] = "figure"
            elif text.count("\n|") > 2:
                out[name] = f"table of {text.count(chr(10) + '|')} rows"
            else:
                out[name] = text
    return out


def test_every_page_is_a_myst_text_notebook_with_tags():
    sources = sorted((ROOT / "notebooks").glob("*.md"))
    assert sources and not list((ROOT / "notebooks").glob("*.ipynb"))
    for src in sources:
        text = src.read_text()
        assert text.startswith("---\njupytext:") and "format_name: myst" in text, src
        nb = pages.read(src)
        assert [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])], src
        assert nb.metadata["kernelspec"]["name"] == "python3"


def test_the_manifest_names_text_pages_that_exist():
    for src, _, _ in book.manifest("smoke", "synthetic"):
        assert src.endswith(".md") and (book.NOTEBOOKS / src).exists()


def test_a_page_signature_is_its_text(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("---\njupytext:\n  text_representation:\n    format_name: myst\n---\n# A\n")
    a = book.signature(page, {"x": 1})
    page.write_text(page.read_text() + "\nOne more sentence.\n")
    assert book.signature(page, {"x": 1}) != a
    assert book.signature(page, {"x": 2}) != book.signature(page, {"x": 1})


GENERATED = "afd9cfc"  # the last commit whose pages were written by scripts/make_notebooks.py


def compare_pages(items, runs_root: Path, out: Path, old_source) -> list[str]:
    """Execute each page of `items` twice on the same runs, from its text source and from
    `old_source(src)` (a notebook file), and list every glued value that differs."""
    import papermill as pm
    (out / "new").mkdir(parents=True, exist_ok=True)
    (out / "old").mkdir(exist_ok=True)
    book.execute(items, out / "new", force=True, log=lambda *_: None)
    diffs = []
    for src, name, params in items:
        pm.execute_notebook(str(old_source(src)), str(out / "old" / name), parameters=params,
                            cwd=str(out / "new"), kernel_name="python3", progress_bar=False)
        a, b = (glued(json.loads((out / d / name).read_text())) for d in ("old", "new"))
        diffs += [f"{name}: {k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b))
                  if a.get(k) != b.get(k)]
    return diffs


@pytest.mark.skipif(not os.environ.get("HBN_EQUIVALENCE"),
                    reason="minutes of work, run when pages change form: HBN_EQUIVALENCE=1")
def test_the_text_pages_glue_what_the_generated_pages_glued(tmp_path, monkeypatch):
    """Every page of the smoke book, executed from its text source and from the notebook the
    old generator wrote (git history), on the same smoke runs: the same glued values (scalars,
    text, table sizes, figures), page by page."""
    import subprocess
    from hbn.config import make_config
    from hbn.data import load_synthetic
    from hbn.train import train_or_reuse
    monkeypatch.setenv("HBN_BOOK_RUNNER", "1")
    runs_root, ds = tmp_path / "runs", load_synthetic()
    items = book.manifest("smoke", "synthetic", page_dir=tmp_path / "new", runs_root=runs_root)
    for src, _, params in items:
        if src == "train.md":
            train_or_reuse(make_config("smoke", model=params["model"], seed=params["seed"],
                                       dataset="synthetic", out_dir=str(runs_root)), ds, log=lambda *_: None)

    def generated(src: str) -> Path:
        path = tmp_path / "generated" / src.replace(".md", ".ipynb")
        path.parent.mkdir(exist_ok=True)
        path.write_text(subprocess.run(["git", "show", f"{GENERATED}:notebooks/{path.name}"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
        return path
    assert compare_pages(items, runs_root, tmp_path, generated) == []
