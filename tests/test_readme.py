"""The README's "Re-run with your own parameters" examples, run as written (issue 22): 1 and 4
on the committed `quick` records exactly as printed; 2 and 3 as printed but on the `smoke`
profile and synthetic data, runs in a scratch folder, the variant book built for real. After
each, nothing the repository tracks has changed.

Examples 2 and 3 are minutes of work (two books' pages executed, twelve trainings): marked
`slow`, they run with `make test-slow`, which CI runs after `make test`."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                          capture_output=True, text=True).stdout


def examples() -> list[str]:
    """The commands of the README's re-run section: its bash blocks and its inline
    `.venv/bin/...` commands, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Re-run with your own parameters", 1)[1].split("\n## ", 1)[0]
    cmds = []
    for block, inline in re.findall(r"```bash\n(.*?)```|`(\.venv/bin/[^`]+)`", section, re.S):
        cmds += [ln.strip() for ln in block.splitlines() if ln.strip()] if block else [inline]
    return cmds


def _smoke(cmd: str, runs: Path) -> str:
    """The same command on the smoke profile, its runs in `runs` (seconds, not minutes)."""
    cmd = cmd.replace("--profile quick", "--profile smoke").replace("--dataset fashion-mnist",
                                                                    "--dataset synthetic")
    return f"{cmd} --out-dir {shlex.quote(str(runs))}"


def _run(cmd: str, **env) -> subprocess.CompletedProcess:
    import os
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


def test_the_readme_lists_the_four_examples():
    cmds = examples()
    assert [c.split()[0] for c in cmds] == ["mkdir", ".venv/bin/python", ".venv/bin/python",
                                            "mkdir", ".venv/bin/python"], cmds


@pytest.mark.skipif(not (ROOT / "runs" / "fashion-mnist" / "quick").exists(),
                    reason="the committed quick runs are not here")
@pytest.mark.parametrize("index", [0, 3])
def test_a_page_example_runs_as_written_and_writes_only_its_own_folder(index):
    cmd = examples()[index]
    before = _git_status()
    out_dir = Path(re.search(r"--cwd (\S+)", cmd).group(1))
    done = _run(cmd)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out_dir / "figures").is_dir() and any((out_dir / "figures").iterdir())
    assert _git_status() == before


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One scratch runs folder for the smoke examples: the seeds example reuses the book
    example's seed-0 runs, as it would after it in the README."""
    return tmp_path_factory.mktemp("runs")


@pytest.mark.slow
def test_the_train_and_book_examples_on_smoke_write_only_their_own_folders(runs):
    train, book = examples()[1], examples()[2]
    before = _git_status()
    done = _run(_smoke(train, runs) + " --epochs 2 --no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((runs / "synthetic").glob("smoke-*/gran-hbn-s0/records.csv.gz"))
    # The variant book, built for real: its pages sit one folder deeper than the book's own,
    # and every link must still resolve (Sphinx runs with --warningiserror).
    done = _run(_smoke(book, runs) + " --set epochs=2 --set seeds=[0]")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    html = re.search(r"book built in \d+ s: (\S+index\.html)", done.stdout)
    root = Path(html.group(1)).parent
    page = root / re.search(r'url=([^"]+)"', Path(html.group(1)).read_text()).group(1)
    assert 'href="../../../docs/design.html"' in page.read_text()  # resolves from the variant
    assert (page.parent / "../../../docs/design.html").resolve().exists()
    assert _git_status() == before


@pytest.mark.slow
def test_the_seeds_example_on_smoke_writes_only_its_own_folders(runs):
    before = _git_status()
    done = _run(_smoke(examples()[4], runs) + " --set epochs=2 --no-build")
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"01-train-gran-hbn-s2\.ipynb: done", done.stdout), done.stdout[-2000:]
    assert _git_status() == before
