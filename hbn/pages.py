"""The book's pages are text: one MyST Markdown notebook per page (`notebooks/<page>.md`, jupytext
`md:myst`), prose and `{code-cell}`s with their tags, as a reader and an editor see them. The
runner reads a page with jupytext and hands papermill its notebook form; nothing writes a page.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def read(source: Path):
    """The page as an nbformat notebook (for papermill), with the python3 kernel."""
    import jupytext
    nb = jupytext.read(Path(source), fmt="md:myst")
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)  # the executed copy is a notebook, not a paired text file
    return nb


def digest(source: Path) -> str:
    """sha256 of the page's text: a page changes when its file does, and only then."""
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()


def declared_parameters(source: Path) -> list[str]:
    """The names the page's `parameters` cell declares, in order (papermill's own parser)."""
    import nbformat
    import papermill as pm
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(source).stem + ".ipynb")
        nbformat.write(read(source), path)
        return list(pm.inspect_notebook(str(path)))
