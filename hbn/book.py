"""The book runner: execute the notebooks of `notebooks/manifest.py` with papermill, then build
the Jupyter Book (1.x) from the executed copies (`execute_notebooks: off`: the build never trains).

Up to date means: a training page whose cells and parameters are unchanged and whose run folder
holds a finished run of exactly its configuration (config, log and records; weights are not
needed); a study page whose cells, parameters, the records and logs it reads, and the `hbn`
source (profiles included) are unchanged. A code change re-executes study pages, never trainings.
`--set name=value` overrides make a variant: its runs, figures, pages and HTML get their own
folders, so committed results are never touched.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import pages, runs
from .config import PROFILES, PUBLISHED, RunConfig, make_config
from .data import resolve_dataset
from .paths import NOTEBOOKS, ROOT
from .study import RUNNER_ENV
from .toc import write_toc
from .variants import RUN_FIELDS, route_overrides, variant_name



def output_dir(profile: str, variant: str = "", references: bool = False) -> Path:
    """Where executed pages go: book/<profile>/ (committed), book/variants/<name>/ (never
    committed), or for the smoke profile the nbval references notebooks/smoke/ (committed; only
    with `references`) else book/smoke/ (scratch)."""
    if variant:  # $HBN_VARIANTS moves them (tests use a temporary folder)
        return Path(os.environ.get("HBN_VARIANTS") or ROOT / "book" / "variants") / variant
    if profile == "smoke" and references:
        return NOTEBOOKS / "smoke"
    return ROOT / "book" / profile


def notebook_data_dir(data_dir: str = "", page_dir: Path | None = None) -> str:
    """The data folder as the notebooks (run inside their page folder) must name it.

    An explicit folder (argument or $HBN_DATA) is made absolute; the default `data/` of the
    repository stays relative, so that committed notebooks do not name this machine's paths.
    """
    given = data_dir or os.environ.get("HBN_DATA", "")
    if given:
        return str(Path(given).resolve())
    return os.path.relpath(ROOT / "data", page_dir or output_dir(PUBLISHED))


def _manifest_module():
    spec = importlib.util.spec_from_file_location("hbn_manifest", NOTEBOOKS / "manifest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def study_runs(profile: str, models=None, seeds=None) -> list[tuple[str, int]]:
    """The (model, seed) runs of a profile's study (notebooks/manifest.py)."""
    return _manifest_module().study_runs(profile, models, seeds)


def manifest(profile: str, dataset: str, data_dir: str = "", page_dir: Path | None = None,
             models=None, seeds=None, runs_root: Path | None = None):
    mod = _manifest_module()
    page_dir = page_dir or output_dir(profile)
    out_dir = os.path.relpath(runs_root or ROOT / "runs", page_dir)  # papermill runs in the page folder
    return mod.entries(profile, dataset, out_dir, notebook_data_dir(data_dir, page_dir),
                       models=models, seeds=seeds)


def code_digest() -> str:
    """Digest of the `hbn` package source (profiles included): a code change re-executes the
    study pages."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "hbn").glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def signature(source: Path, params: dict, inputs: str = "") -> str:
    """'<page+params>-<inputs>': a hash of the page's text file and its parameters, then the
    digest of what it reads (see `inputs_digest`)."""
    h = hashlib.sha256(pages.digest(source).encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    return f"{h.hexdigest()[:16]}-{inputs}"


def train_config(page_dir: Path, params: dict) -> RunConfig:
    """The RunConfig a training page trains, its out_dir resolved from the page's folder."""
    given = {k: v for k, v in params.items() if k in RUN_FIELDS and v is not None}
    given["out_dir"] = str((page_dir / params["out_dir"]).resolve())
    return make_config(given.pop("profile"), **given)


def study_configs(page_dir: Path, params: dict) -> list[RunConfig]:
    """The configurations of the runs a study page reads (`hbn.study.wanted_runs`: each model
    at the page's `model_seeds`, by default seed 0, and the Gran-HBN `seeds`), and the variants
    of those runs an ablation page compares (`variants`: label -> RunConfig overrides)."""
    from .study import wanted_runs
    common = dict(params.get("overrides") or {}, dataset=params["dataset"],
                  out_dir=str((page_dir / params["out_dir"]).resolve()))
    model_seeds = params.get("model_seeds") or [0]
    wanted = wanted_runs(params["models"], params.get("seeds", [0]), model_seeds)
    cfgs = [make_config(params["profile"], **common, model=m, seed=s) for m, s in wanted]
    for changes in (params.get("variants") or {}).values():  # the ablation page's variants
        cfgs += [make_config(params["profile"], **{**common, **changes}, model=m, seed=s)
                 for m in params["models"] for s in model_seeds]
    ablation = params.get("ablation") or {}  # Findings' AG-HBN ablation: its runs, as trained too
    for changes in [{}, *(ablation.get("variants") or {}).values()]:
        cfgs += [make_config(params["profile"], **{**common, **changes}, model="ag-hbn", seed=s)
                 for s in ablation.get("model_seeds", [])]
    return cfgs


def _other_studies(page_dir: Path, params: dict) -> list[RunConfig]:
    """The runs of the other datasets' studies a page sets beside its own (`claims_also`,
    dataset -> profile: the claims table's columns), finished or not."""
    out_dir = str((page_dir / params["out_dir"]).resolve())
    return [make_config(profile, model=m, seed=s, dataset=other, out_dir=out_dir)
            for other, profile in (params.get("claims_also") or {}).items() if other != params["dataset"]
            for m, s in study_runs(profile)]


def inputs_digest(page_dir: Path, params: dict) -> str:
    """Digest of the logs and exit records a study page reads (the other datasets' studies it
    sets beside its own included: one landing makes it stale), and of the `hbn` source."""
    from .runs import run_dir
    h = hashlib.sha256(code_digest().encode())
    for cfg in study_configs(page_dir, params) + _other_studies(page_dir, params):
        run = run_dir(cfg)
        for f in sorted(run.glob("metrics.jsonl")) + sorted(run.glob("records*.csv.gz")):
            h.update(f"{run.name}/{f.name}".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def train_command(cfg: RunConfig) -> str:
    """A command that trains (or resumes) exactly `cfg`, as printed in hints."""
    base = make_config(cfg.profile, model=cfg.model, dataset=cfg.dataset).to_dict()
    mine = cfg.to_dict()
    parts = [f"{sys.executable} -m hbn train --model {cfg.model} --profile {cfg.profile} "
             f"--dataset {cfg.dataset} --seed {cfg.seed} --out-dir {cfg.out_dir}"]
    for k, v in mine.items():
        if k in ("model", "profile", "dataset", "seed", "out_dir") or v == base[k] or v is None:
            continue
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            parts.append(flag if v else "--no-" + k.replace("_", "-"))
        elif isinstance(v, (list, tuple)):
            parts.append(f"{flag} {' '.join(map(str, v))}")
        else:
            parts.append(f"{flag} {v}")
    return " ".join(parts) + " --resume"


def missing_runs(page_dir: Path, params: dict) -> list[RunConfig]:
    from .reuse import finished
    return [c for c in study_configs(page_dir, params) if not finished(c)]


def _stored_signature(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("metadata", {}).get("hbn", {}).get("signature")
    except (OSError, ValueError):
        return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebook_error(path: Path) -> str:
    """The last exception a failed notebook recorded: its type, message and innermost frames."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError) as e:
        return f"(could not read {path}: {e})"
    for cell in reversed(cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                frames = [ln for ln in tb.splitlines() if ln.strip()][-12:]
                return f"{out['ename']}: {out['evalue']}\n" + "\n".join(frames)
    return "(no exception recorded in the notebook)"


def _shown(path: Path) -> str:
    """A path as printed: relative to the repository when inside it."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def check_items(items, out: Path) -> None:
    """Every page's parameters checked before any page runs: the run configurations of training
    pages and of the runs each study page reads, and the analysis values (hbn.notebook)."""
    from .notebook import check_values
    for _src, name, params in items:
        check_values(params, name)
        if "models" in params:
            study_configs(out, params)
        else:
            train_config(out, params)


# Pages that read other executed pages (labels they link, pages that exist): each runs after
# every page before it in the manifest. Pages that time something (latency) run with nothing
# beside them. All other pages that train nothing run `jobs` at a time.
READS_OTHER_PAGES = ("report.md", "overview.md")
RUNS_ALONE = ("beyond.md",)


def execute(items, out: Path, force: bool = False, retrain: bool = False, log=print,
            jobs: int = 1) -> list[Path]:
    """Execute each (page, executed name, parameters) of `items` into `out` unless up to date.

    Pages whose run must be trained go first, one at a time (a training uses every core); then
    the pages that read finished runs, up to `jobs` at once (a page's time is mostly its
    kernel's start and imports, one core each); then `RUNS_ALONE` and `READS_OTHER_PAGES`, one
    at a time in manifest order."""
    from concurrent.futures import ThreadPoolExecutor, as_completed
    from .reuse import finished
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    numbered = [(i, *item) for i, item in enumerate(items, 1)]
    trains = [it for it in numbered if "models" not in it[3]
              and (retrain or not finished(train_config(out, it[3])))]
    alone = [it for it in numbered if it[1] in RUNS_ALONE]
    last = [it for it in numbered if it[1] in READS_OTHER_PAGES]
    rest = [it for it in numbered if it not in trains + alone + last]
    done: dict[int, Path] = {}

    def run(it):
        done[it[0]] = _execute_page(*it, len(items), out, force, retrain, log)
    here = os.getcwd()
    os.environ[RUNNER_ENV] = "1"  # the pages' kernels inherit it: they may write figures/
    os.chdir(out)  # every kernel starts here (papermill's own `cwd` is a process-wide chdir)
    try:
        for it in trains:
            run(it)
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            futures = [pool.submit(run, it) for it in rest]
            for future in as_completed(futures):
                if future.exception() is not None:  # the pages not started never start
                    for other in futures:
                        other.cancel()
                    raise future.exception()
        for it in alone + last:
            run(it)
    finally:
        os.chdir(here)
        os.environ.pop(RUNNER_ENV, None)
    return [done[i] for i in sorted(done)]


def _execute_page(i: int, src: str, name: str, params: dict, n: int, out: Path, force: bool,
                  retrain: bool, log) -> Path:
    import nbformat
    import papermill as pm
    from .reuse import finished
    source, target = NOTEBOOKS / src, out / name
    trains = "models" not in params
    if trains:
        if retrain:
            runs.set_aside(runs.run_dir(train_config(out, params)), log)
        ready = finished(train_config(out, params))
        sig = signature(source, params)
    else:
        missing = missing_runs(out, params)
        if missing:
            raise RuntimeError(
                f"{name} reads runs that do not exist or did not finish: "
                + "; ".join(f"{c.model} seed {c.seed}" for c in missing)
                + ". Train them with:\n  " + "\n  ".join(train_command(c) for c in missing))
        ready, sig = True, signature(source, params, inputs_digest(out, params))
    if not force and ready and _stored_signature(target) == sig:
        log(f"[{i}/{n}] {name}: up to date, reused (use --force to re-execute)")
        return target
    log(f"[{i}/{n}] executing {src} -> {_shown(target)} {params}")
    t0 = time.time()
    tmp = target.with_suffix(".running.ipynb")
    try:  # executes into a temporary file: a failure never destroys the last good copy
        pm.execute_notebook(pages.read(source), str(tmp), parameters=params, kernel_name="python3",
                            progress_bar=False, log_output=True)
    except Exception as e:
        raise RuntimeError(f"notebook {src} failed; the partial output is in {tmp}, the "
                           f"previous copy is untouched. Its error:\n{notebook_error(tmp)}") from e
    nb = nbformat.read(tmp, as_version=4)
    for cell in nb.cells:  # papermill's injected parameters: run, never shown
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    root = Path(os.path.relpath(ROOT, out)).as_posix()
    for cell in nb.cells:  # "{model}" in a heading becomes the run's model, and so on
        if cell.cell_type == "markdown":
            for key, value in params.items():
                cell.source = cell.source.replace("{" + key + "}", str(value))
            # Links to the repository's own pages (docs/...) are written from book/<profile>/:
            # a variant page sits deeper (book/variants/<name>/), so re-root them.
            cell.source = cell.source.replace("](../../", f"]({root}/")
        for output in cell.get("outputs", []):  # the same in Markdown the page computed
            data = output.get("data", {})  # (shown, or glued: papermill.record/text/markdown)
            for mime in [m for m in data if m.endswith("text/markdown")]:
                if isinstance(data[mime], str):
                    data[mime] = data[mime].replace("](../../", f"]({root}/")
    if not trains:  # the page may have written records of its own: sign what it read
        sig = signature(source, params, inputs_digest(out, params))
    nb.metadata["hbn"] = {"signature": sig, "params": params, "seconds": round(time.time() - t0, 1)}
    nbformat.write(nb, target)
    tmp.unlink()
    log(f"[{i}/{n}] {name}: done in {time.time() - t0:.0f} s")
    return target


def book_dataset(profile: str, dataset: str | None, data_dir) -> str:
    """The dataset a book of `profile` reads: `dataset` when given, else the profile's own. Only
    the profile's default CIFAR-100 falls back (loudly) to Fashion-MNIST when it is absent."""
    return resolve_dataset(dataset or PROFILES[profile]["dataset"], data_dir,
                           fallback=dataset is None)


def build(profile: str = PUBLISHED, dataset: str | None = None, force: bool = False,
          data_dir: str = "", skip_build: bool = False, sets: dict | None = None,
          references: bool = False, retrain: bool = False, runs_root: str = "",
          jobs: int = 1) -> int:
    t0 = time.time()
    sets = dict(sets or {})
    variant = variant_name(profile, sets)
    if references and (profile != "smoke" or variant):
        raise ValueError("--update-references refreshes the nbval copies: smoke profile, no --set")
    check_dir = data_dir or os.environ.get("HBN_DATA") or ROOT / "data"  # what the notebooks read
    name = book_dataset(profile, dataset, check_dir)
    out = output_dir(profile, variant, references)
    items = manifest(profile, name, data_dir, out, sets.pop("models", None), sets.pop("seeds", None),
                     Path(runs_root).resolve() if runs_root else None)
    items = route_overrides(items, sets)
    print(f"book: profile {profile}, dataset {name}"
          + (f", variant {variant} ({sets}) -> {_shown(out)}" if variant else ""))
    check_items(items, out)  # bad values fail here, before any page trains
    pages = execute(items, out, force=force or retrain, retrain=retrain, jobs=jobs)
    if references or skip_build:
        print(f"notebooks executed in {time.time() - t0:.0f} s (no book build)")
        return 0
    published = profile == PUBLISHED and not variant
    toc = write_toc(profile, pages, None if published else out / "_toc.yml")
    target = ROOT / "_build" if published else ROOT / "_build" / (variant or profile)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(ROOT), "--warningiserror",
           "--toc", str(toc), "--path-output", str(target.parent if published else target)]
    print("building the book:", " ".join(cmd))
    rc = subprocess.call(cmd, cwd=ROOT, env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    html = (target if published else target / "_build") / "html" / "index.html"
    print(f"book {'built' if rc == 0 else 'FAILED'} in {time.time() - t0:.0f} s: {html}")
    return rc
