"""The built book, read as its readers read it (issue 9): no page shows a parameters cell or a
check cell, no table cell reads NaN, every image and internal link resolves, and the Findings
page exists and comes second.

Reads `$HBN_HTML` (a built `_build/html`) when set; otherwise builds the committed pages into a
temporary folder with `jupyter-book build` (execute_notebooks: off, about a minute). Needs no
`hbn` import, so the publishing workflow runs it with BeautifulSoup alone (`--noconftest`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

bs4 = pytest.importorskip("bs4")
ROOT = Path(__file__).resolve().parent.parent


def _jupyter_book() -> str | None:
    local = Path(sys.executable).parent / "jupyter-book"
    return str(local) if local.exists() else shutil.which("jupyter-book")


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    given = os.environ.get("HBN_HTML")
    if given:
        return Path(given).resolve()
    jb = _jupyter_book()
    if jb is None:
        pytest.skip("jupyter-book is not installed: the built-book checks need it")
    out = tmp_path_factory.mktemp("book")
    run = subprocess.run([jb, "build", str(ROOT), "--path-output", str(out)], capture_output=True,
                         text=True, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out / "_build" / "html"


def _pages(html: Path) -> dict[Path, "bs4.BeautifulSoup"]:
    skip = {"genindex.html", "search.html"}
    return {p.resolve(): bs4.BeautifulSoup(p.read_text(), "html.parser")
            for p in sorted(html.rglob("*.html")) if p.name not in skip and "_static" not in p.parts}


@pytest.fixture(scope="module")
def pages(html):
    found = _pages(html)
    assert found, f"no pages in {html}"
    return found


def _article(soup):
    return soup.find("article") or soup


def test_no_page_shows_parameter_or_check_cells(pages):
    bad = []
    for path, soup in pages.items():
        art = _article(soup)
        for cls in ("tag_parameters", "tag_injected-parameters"):
            if art.find(class_=cls):
                bad.append(f"{path.name}: a {cls} cell")
        text = art.get_text(" ")
        for marker in ("NBVAL_CHECK_OUTPUT", "check_parameters", "_declared"):
            if marker in text:
                bad.append(f"{path.name}: shows {marker}")
    assert not bad, bad


def test_no_table_cell_reads_nan(pages):
    bad = [f"{p.name}: {td.get_text(strip=True)!r}" for p, soup in pages.items()
           for td in _article(soup).find_all(["td", "th"])
           if td.get_text(strip=True).lower() in ("nan", "<na>", "none", "nat")]
    assert not bad, bad[:20]


def _target(page: Path, ref: str) -> tuple[Path, str] | None:
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith(("mailto:", "javascript:", "data:")):
        return None  # external
    path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
    return path, parts.fragment


def test_every_image_resolves(pages):
    missing = []
    for page, soup in pages.items():
        for img in soup.find_all("img"):
            src = img.get("src", "")
            t = _target(page, src)
            if t is not None and not t[0].is_file():
                missing.append(f"{page.name}: {src}")
    assert not missing, missing


FILE_SUFFIXES = (".md", ".py", ".ipynb", ".yml", ".txt", ".csv", ".json")


def test_every_internal_link_resolves(pages):
    ids = {p: {tag["id"] for tag in soup.find_all(id=True)} for p, soup in pages.items()}
    broken = []
    for page, soup in pages.items():
        for a in _article(soup).find_all("a", href=True):
            t = _target(page, a["href"])
            if t is None:  # external; but a file name turned into a web address is a dead link
                host = urlsplit(a["href"]).netloc.lower()
                if host.endswith(FILE_SUFFIXES):
                    broken.append(f"{page.name}: {a['href']} (a file name linkified)")
                continue
            path, fragment = t
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.name}: {a['href']}")
            elif fragment and path in ids and fragment not in ids[path]:
                broken.append(f"{page.name}: {a['href']} (no such anchor)")
    assert not broken, broken


def _root_page(html: Path) -> Path:
    """The book's first page (Jupyter Book's top index.html may only redirect to it)."""
    index = html / "index.html"
    soup = bs4.BeautifulSoup(index.read_text(), "html.parser")
    refresh = soup.find("meta", attrs={"http-equiv": "Refresh"})
    if refresh is not None:
        return (html / refresh["content"].split("url=", 1)[1]).resolve()
    return index


def test_the_report_then_findings_follow_the_first_page(html, pages):
    root = _root_page(html)
    nav = bs4.BeautifulSoup(root.read_text(), "html.parser").find("nav", class_="bd-docs-nav")
    assert nav is not None, f"no navigation sidebar in {root}"
    order = [(root.parent / a["href"]).resolve() if a["href"] != "#" else root
             for a in nav.find_all("a", class_="internal", href=True)]
    assert order[:1] == [root], f"the root page is not first: {order[:3]}"
    # issue 23: the reproducibility report first after the overview, then Findings
    assert [p.stem for p in order[1:3]] == ["report", "findings"], f"pages 2-3: {order[1:3]}"
    findings = pages[order[2]]
    items = [li for li in _article(findings).find_all("li") if "the paper" in li.get_text()]
    assert 5 <= len(items) <= 12, f"{len(items)} findings"  # as the findings page asserts


def test_no_placeholder_links(pages):
    """Issue 19: no link leads to a placeholder (the header's repository button needs a real
    address, `_config.yml`'s `repository: url`; without one it is not shown)."""
    bad = {str(p.name): a["href"] for p, soup in pages.items() for a in soup.find_all("a", href=True)
           if "OWNER" in a["href"] or "example.com" in a["href"]}
    assert not bad, bad
