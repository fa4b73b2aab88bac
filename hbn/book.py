"""The book runner: execute the notebooks of `notebooks/manifest.py` with papermill, then build
the Jupyter Book (1.x) from the executed copies. The book build itself never trains
(`execute_notebooks: off`). An executed notebook is up to date when its cells and parameters
are unchanged and, for the study pages, so are the run logs and exit records they read; after
changing `hbn/` itself, pass `force` to re-execute them all.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .data import resolve_dataset

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def output_dir(profile: str) -> Path:
    # The smoke copies are the nbval regression checks; the others are the book's pages.
    return NOTEBOOKS / "smoke" if profile == "smoke" else ROOT / "book" / profile


def notebook_data_dir(data_dir: str = "") -> str:
    """The data folder as the notebooks (run inside book/<profile>/) must name it.

    An explicit folder (argument or $HBN_DATA) is made absolute; the default `data/` of the
    repository stays relative, so that committed notebooks do not name this machine's paths.
    """
    given = data_dir or os.environ.get("HBN_DATA", "")
    return str(Path(given).resolve()) if given else "../../data"


def manifest(profile: str, dataset: str, data_dir: str = ""):
    spec = importlib.util.spec_from_file_location("hbn_manifest", NOTEBOOKS / "manifest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # Both output folders sit two levels below the repository root; papermill runs in them.
    out_dir = "runs" if profile == "smoke" else "../../runs"
    return mod.entries(profile, dataset, out_dir, notebook_data_dir(data_dir))


def signature(source: Path, params: dict, inputs: str = "") -> str:
    """'<cells+params>-<inputs>': a hash of the notebook's cell sources (not cell ids or outputs)
    and parameters, then the digest of the run files it reads (see `inputs_digest`)."""
    cells = json.loads(source.read_text())["cells"]
    h = hashlib.sha256(json.dumps([(c["cell_type"], "".join(c["source"])) for c in cells]).encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    return f"{h.hexdigest()[:16]}-{inputs}"


def inputs_digest(cwd: Path, params: dict) -> str:
    """Digest of the training logs and exit records a study notebook reads (those whose
    parameters name `models`): retraining or re-evaluating a run makes its pages stale."""
    if "models" not in params:
        return ""
    base = (cwd / params["out_dir"] / params["dataset"] / params["profile"]).resolve()
    h = hashlib.sha256()
    for f in sorted(base.glob("*/metrics.jsonl")) + sorted(base.glob("*/records.csv.gz")):
        h.update(f.relative_to(base).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _stored_signature(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("metadata", {}).get("hbn", {}).get("signature")
    except (OSError, ValueError):
        return None


def execute(profile: str, dataset: str, force: bool = False, data_dir: str = "",
            log=print) -> list[Path]:
    import nbformat
    import papermill as pm
    out = output_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    items = manifest(profile, dataset, data_dir)
    done = []
    for i, (src, name, params) in enumerate(items, 1):
        source, target = NOTEBOOKS / src, out / name
        sig = signature(source, params, inputs_digest(out, params))  # after earlier pages ran
        if not force and _stored_signature(target) == sig:
            log(f"[{i}/{len(items)}] {name}: up to date, reused (use --force to re-execute)")
            done.append(target)
            continue
        log(f"[{i}/{len(items)}] executing {src} -> {target.relative_to(ROOT)} {params}")
        t0 = time.time()
        tmp = target.with_suffix(".running.ipynb")
        try:  # executes into a temporary file: a failure never destroys the last good copy
            pm.execute_notebook(str(source), str(tmp), parameters=params, cwd=str(out),
                                kernel_name="python3", progress_bar=False, log_output=True)
        except Exception as e:
            raise RuntimeError(f"notebook {src} failed ({type(e).__name__}); the partial output "
                               f"is in {tmp.relative_to(ROOT)}, the previous copy is untouched") from e
        nb = nbformat.read(tmp, as_version=4)
        for cell in nb.cells:  # "{model}" in a heading becomes the run's model, and so on
            if cell.cell_type == "markdown":
                for key, value in params.items():
                    cell.source = cell.source.replace("{" + key + "}", str(value))
        nb.metadata["hbn"] = {"signature": sig, "params": params, "seconds": round(time.time() - t0, 1)}
        nbformat.write(nb, target)
        tmp.unlink()
        log(f"[{i}/{len(items)}] {name}: done in {time.time() - t0:.0f} s")
        done.append(target)
    return done


TOC_HEAD = "# Generated by `python -m hbn book`: the pages of the last profile built.\nformat: jb-book\n"


def write_toc(profile: str, pages: list[Path]) -> None:
    """Write _toc.yml: the executed `pages` in the parts `PARTS` of notebooks/manifest.py lists
    (first part: the root page), plus the static pages of docs/ it names. A page in no part is
    an error: a new notebook must be given its place in the book."""
    spec = importlib.util.spec_from_file_location("hbn_manifest", NOTEBOOKS / "manifest.py")
    parts_spec = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parts_spec)
    rel = {p.stem: p.relative_to(ROOT).with_suffix("").as_posix() for p in pages}
    placed, parts = set(), []
    for caption, patterns in parts_spec.PARTS:
        files = []
        for pattern in patterns:
            if "/" in pattern:  # a static page, named from the repository root
                if any((ROOT / pattern).with_suffix(s).exists() for s in (".md", ".ipynb")):
                    files.append(pattern)
                continue
            hits = [k for k in rel if (k.startswith(pattern[:-1]) if pattern.endswith("*")
                                       else k == pattern)]
            files += [rel[k] for k in hits]
            placed.update(hits)
        parts.append((caption, files))
    unplaced = [k for k in rel if k not in placed]
    if unplaced:
        raise ValueError(f"pages in no part of the book: {unplaced}; add them to PARTS in "
                         f"notebooks/manifest.py")
    (_, first), rest = parts[0], parts[1:]
    if not first:
        raise ValueError("the first part of PARTS must name the root page (index)")
    out = [TOC_HEAD, f"root: {first[0]}\nparts:\n"]
    extra = [("", first[1:])] if first[1:] else []
    for caption, files in extra + [p for p in rest if p[1]]:
        out.append(f"- caption: {json.dumps(caption or 'Overview')}\n  chapters:\n")
        out += [f"  - file: {f}\n" for f in files]
    (ROOT / "_toc.yml").write_text("".join(out))


def build(profile: str = "quick", dataset: str | None = None, force: bool = False,
          data_dir: str = "", skip_build: bool = False) -> int:
    t0 = time.time()
    check_dir = data_dir or os.environ.get("HBN_DATA") or ROOT / "data"  # what the notebooks read
    name = resolve_dataset(dataset or ("synthetic" if profile == "smoke" else "cifar100"),
                           check_dir, fallback=dataset is None)
    print(f"book: profile {profile}, dataset {name}")
    pages = execute(profile, name, force=force, data_dir=data_dir)
    if profile == "smoke" or skip_build:
        print(f"notebooks executed in {time.time() - t0:.0f} s (no book build)")
        return 0
    write_toc(profile, pages)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(ROOT), "--warningiserror"]
    print("building the book:", " ".join(cmd))
    rc = subprocess.call(cmd, cwd=ROOT, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    print(f"book {'built' if rc == 0 else 'FAILED'} in {time.time() - t0:.0f} s: "
          f"{ROOT / '_build' / 'html' / 'index.html'}")
    return rc
