"""Sphinx extension for the book: hide the cells a reader does not need, whoever executed the
page. Papermill tags its injected cell `injected-parameters`; the parameters cell is tagged
`parameters`; nbval's check cells start with `# NBVAL_CHECK_OUTPUT`. All three get the
`remove-cell` tag that myst-nb honours (the notebooks on disk are not changed).

It also shows the header's repository button exactly when `_config.yml`'s `repository: url` is
a real address (no placeholder link in a local build).
"""
import json
import re

REPOSITORY = re.compile(r"https://(github|gitlab)\.com/[\w.-]+/[\w.-]+/?")
PLACEHOLDERS = ("OWNER", "USER", "example")

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


def real_repository(url) -> bool:
    """True for a repository address a reader can follow (not empty, not a placeholder)."""
    url = str(url or "")
    return bool(REPOSITORY.fullmatch(url)) and not any(p in url for p in PLACEHOLDERS)


def repository_button(app, config):
    options = config.html_theme_options
    options["use_repository_button"] = real_repository(options.get("repository_url"))


def setup(app):
    app.connect("config-inited", repository_button)
    app.connect("source-read", tag_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
