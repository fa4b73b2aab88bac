"""ruff over the package, the tests, the benchmarks and the code cells of every page (issue 20).
Rules: pyproject.toml's [tool.ruff.lint]; the pages add one exception, E402 (a page imports
where the reader meets the code: after its parameters cell)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install -e '.[test]')")


def _ruff(*args) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, "check", "--output-format", "concise", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_package_tests_and_benchmarks_are_clean():
    out = _ruff("hbn", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout


def test_the_code_cells_of_every_page_are_clean(tmp_path):
    import jupytext
    for page in sorted((ROOT / "notebooks").glob("*.md")):
        jupytext.write(jupytext.read(page), tmp_path / f"{page.stem}.py", fmt="py:percent")
    out = _ruff("--extend-ignore", "E402", str(tmp_path))
    assert out.returncode == 0, out.stdout


def test_a_planted_mistake_is_caught(tmp_path):
    (tmp_path / "page.py").write_text("import os\nprint(undefined_name)\n")
    out = _ruff(str(tmp_path))
    assert out.returncode == 1 and "F401" in out.stdout and "F821" in out.stdout
