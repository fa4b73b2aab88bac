"""Traceable Findings: every number a finding prints must appear, formatted the same way, in the
evidence it links — the labelled table ({numref} of a `tbl-…`), or for a figure (`fig-…`, whose
numbers are pixels) the text and tables of the page that holds it.

Works on executed notebooks (the book's `book/<profile>/*.ipynb`): `missing(folder)` lists each
(finding, number, labels) whose number none of its linked evidence shows.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.])[+−-]?\d+(?:,\d{3})*\.\d+")  # decimals: measured values
LABEL = re.compile(r"\{numref\}`([^`<]+?)`")
TABLE_NAME = re.compile(r":name: ([\w-]+)")
SKIP = ("tbl-params-",)  # parameter tables are not evidence


def _outputs(nb: dict) -> list[str]:
    """Every text output of a notebook (Markdown, plain text, HTML), one string per output."""
    texts = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in ("text/markdown", "text/plain", "text/html"):
                if mime in data:
                    value = data[mime]
                    texts.append("".join(value) if isinstance(value, list) else value)
                    break
            else:
                if "text" in out:
                    texts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
            # glued values (myst-nb's records) carry their Markdown under a papermill mime type
            for mime, value in data.items():
                if mime.startswith("application/papermill.record/text/markdown"):
                    texts.append("".join(value) if isinstance(value, list) else str(value))
    return texts


def _norm(number: str) -> str:
    return number.replace("−", "-").lstrip("+").replace(",", "")


def numbers(text: str) -> list[str]:
    """The decimal numbers of a text, normalised (true minus as '-', no '+', no thousands ',')."""
    return [_norm(n) for n in NUMBER.findall(text)]


def evidence(folder: Path) -> dict[str, set[str]]:
    """label -> the numbers its evidence shows: a table's own Markdown for `tbl-…` labels, all
    text outputs and the source of the page that holds it for a `fig-…` label."""
    found: dict[str, set[str]] = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = json.loads(path.read_text())
        texts = _outputs(nb)
        page = set().union(*(numbers(t) for t in texts)) if texts else set()
        page |= set(numbers("".join("".join(c.get("source", "")) for c in nb.get("cells", [])
                                    if c.get("cell_type") == "markdown")))
        for text in texts:
            for block in text.split("```{table}")[1:]:
                name = TABLE_NAME.search(block)
                if name:
                    found.setdefault(name.group(1), set()).update(numbers(block.split("```")[0]))
        src = "".join("".join(c.get("source", "")) for c in nb.get("cells", []))
        for fig in set(re.findall(r"(?:glue:figure\}|:name:) (fig-[\w-]+)", src)):
            found.setdefault(fig, set()).update(page)
    return found


def findings_items(nb: dict) -> list[str]:
    """The Findings page's items: each paragraph of its Markdown outputs that links evidence,
    and each row of its tables that does (the claims table's rows link their numbers)."""
    items = []
    for text in _outputs(nb):
        if "```{table}" in text:  # a table: each row that links evidence is an item
            items += [row for row in text.splitlines() if row.startswith("|") and LABEL.search(row)]
            continue
        for para in re.split(r"\n(?=\d+\. |- )|\n\n", text):
            if LABEL.search(para) and not para.lstrip().startswith("```"):
                items.append(para)
    return items


def missing(folder: Path, page: str = "findings.ipynb") -> list[tuple[str, str, list[str]]]:
    """(finding's first words, number, its labels) for each number of a finding on `page` that
    none of the evidence it links shows."""
    folder = Path(folder)
    ev = evidence(folder)
    nb = json.loads((folder / page).read_text())
    out = []
    for item in findings_items(nb):
        labels = [lab for lab in LABEL.findall(item) if not lab.startswith(SKIP)]
        shown = set().union(*(ev.get(lab, set()) for lab in labels)) if labels else set()
        head = item.strip()[:70]
        for n in numbers(LABEL.sub("", item)):
            if n not in shown:
                out.append((head, n, labels))
    return out
