"""Sphinx extension for the book: hide the cells a reader does not need, whoever executed the
page. Papermill tags its injected cell `injected-parameters`; the parameters cell is tagged
`parameters`; nbval's check cells start with `# NBVAL_CHECK_OUTPUT`. All three get the
`remove-cell` tag that myst-nb honours (the notebooks on disk are not changed).
"""
import json

REMOVED_TAGS = {"parameters", "injected-parameters"}


def _remove(cell) -> bool:
    if cell.get("cell_type") != "code":
        return False
    tags = set(cell.get("metadata", {}).get("tags", []))
    src = "".join(cell.get("source", ""))
    return bool(tags & REMOVED_TAGS) or src.lstrip().startswith("# NBVAL_CHECK_OUTPUT")


def tag_cells(app, docname, source):
    if not app.env.doc2path(docname).endswith(".ipynb"):
        return
    nb = json.loads(source[0])
    for cell in nb.get("cells", []):
        if _remove(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "remove-cell" not in tags:
                tags.append("remove-cell")
    source[0] = json.dumps(nb)


def setup(app):
    app.connect("source-read", tag_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
