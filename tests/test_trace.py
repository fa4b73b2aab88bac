"""Findings are traceable (hbn.trace): every number on the Findings page of each committed book
appears, formatted the same way, in the evidence it links; a planted mismatch is caught."""
import json
import shutil

import pytest

from hbn import trace
from hbn.paths import ROOT

BOOKS = [p for p in (ROOT / "book" / "standard", ROOT / "book" / "quick") if (p / "findings.ipynb").exists()]


def test_numbers_are_normalised():
    assert trace.numbers("−0.44 points, +3.86 and 1,234.50; 95.37 %; branch 3") == ["-0.44", "3.86", "1234.50", "95.37"]


@pytest.mark.parametrize("book", BOOKS, ids=[b.name for b in BOOKS])
def test_every_findings_number_is_in_its_evidence(book):
    items = trace.findings_items(json.loads((book / "findings.ipynb").read_text()))
    assert len(items) >= 10  # the claims table's rows and the findings
    assert trace.missing(book) == []


def _plant(nb: dict, old: str, new: str) -> bool:
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for mime, value in out.get("data", {}).items():
                text = "".join(value) if isinstance(value, list) else value
                if isinstance(text, str) and old in text:
                    out["data"][mime] = text.replace(old, new, 1)
                    return True
    return False


@pytest.mark.skipif(not BOOKS, reason="no committed book")
def test_a_planted_mismatch_is_caught(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(BOOKS[0], book, ignore=shutil.ignore_patterns("figures"))
    nb = json.loads((book / "findings.ipynb").read_text())
    item = next(i for i in trace.findings_items(nb) if trace.numbers(trace.LABEL.sub("", i)))
    number = trace.NUMBER.findall(trace.LABEL.sub("", item))[0]
    planted = number[:-1] + ("7" if number[-1] != "7" else "3")  # the last digit changed
    assert _plant(nb, item, item.replace(number, planted, 1))
    (book / "findings.ipynb").write_text(json.dumps(nb))
    missing = trace.missing(book)
    assert any(n == trace.numbers(planted)[0] for _, n, _ in missing), missing
