"""What every book page does besides its analysis: check its papermill parameters (an unknown
or mistyped name is an error, not a warning), show them, describe a run's effective
configuration, and say which revision executed the page, when, and on what machine.
"""
from __future__ import annotations

import dataclasses
import datetime
import difflib
import os
import subprocess
from pathlib import Path

import numpy as np

from .paths import ROOT
from .tables import Table, key_value

# Names IPython puts in a kernel's namespace before any cell runs.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# What decides a page's results: a change here, uncommitted, makes the executing tree "dirty".
from .runs import CODE_PATHS, cpu_model  # noqa: E402  (code for the dirty-tree warning; the CPU name)


def _is_data(value) -> bool:
    """Papermill injects literals only: never modules, functions or classes."""
    return isinstance(value, (str, int, float, bool, type(None), list, tuple, dict))


def parameters(globals_dict: dict, declared) -> dict:
    """The page's parameters and their current values: the names its parameters cell declared."""
    return {k: v for k, v in globals_dict.items()  # in the order the cell declared them
            if k in declared and not k.startswith("_") and k not in _IPYTHON_NAMES
            and _is_data(globals_dict[k])}


def check_parameters(globals_dict: dict, declared) -> dict:
    """Raise ValueError if papermill injected a parameter the page does not declare.

    Call right after the injected cell, with `declared` = the names recorded at the end of
    the parameters cell (`_declared = set(globals())`). Returns the parameters in declared order.
    """
    declared = set(declared)
    known = list(parameters(globals_dict, declared))
    unknown = sorted(k for k, v in globals_dict.items()
                     if k not in declared and not k.startswith("_") and k not in _IPYTHON_NAMES
                     and _is_data(v))
    if unknown:
        hints = [f"{u} (did you mean {', '.join(m)}?)" if (m := difflib.get_close_matches(u, known, 2))
                 else u for u in unknown]
        raise ValueError(f"unknown parameter(s): {'; '.join(hints)}. This page takes: "
                         f"{', '.join(known)}")
    return {k: globals_dict[k] for k in known}


def page(g: dict, name: str, study: bool = True):
    """What every page does right after its parameters cell (and papermill's injected one):
    reject unknown parameters, glue each as `p_<name>`, and, for a study page, load the study,
    choose its figures folder and say which data and which revision executed the page.

    `g` is the page's `globals()`; its parameters cell ends by recording the names it declares
    (`_declared`). Returns `params` for a page without a study (`study=False`), else
    `(params, study, caption, figures)`."""
    params = check_parameters(g, g["_declared"])
    if not study:
        return params
    from IPython.display import Markdown, display
    from .study import figure_dir, load_study
    loaded = load_study(params["out_dir"], params["dataset"], params["profile"], params["models"],
                        params["seeds"], overrides=params.get("overrides"),
                        model_seeds=params.get("model_seeds") or (0,))
    caption = loaded.caption()
    glue_parameters(params)
    glue("caption", Markdown(caption))
    display(Markdown(f"**Data: {caption}.**"), provenance())
    return params, loaded, caption, figure_dir(loaded)


def parameters_table(params: dict, page: str, defaults: dict | None = None) -> Table:
    """The page's parameters as a small numbered table. None reads "the profile's value" for a
    run setting and "the page's default" for an analysis one (e.g. tau_grid: the paper grid)."""
    from .config import RunConfig
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    shown = {k: (("the profile's value" if k in fields else "the page's default (see its text)")
                 if v is None else v) for k, v in params.items()}
    note = ""
    if defaults:
        changed = [k for k in params if k in defaults and params[k] != defaults[k]]
        note = ("Set for this execution: " + ", ".join(changed) + "." if changed
                else "All parameters at the values the page declares.")
    return key_value(shown, f"Parameters this page was executed with ({page})", f"tbl-params-{page}",
                     "parameter", note=note)


GLUE_PREFIX = "application/papermill.record/"  # myst-nb's marker for glued, undisplayed outputs


def glue(name: str, value, display: bool = False) -> None:
    """myst-nb's `glue` (the same cell output), without needing myst-nb in the kernel: the book
    pastes `value` where a page says {glue:text}`name`, {glue:md}`name` or {glue:figure}."""
    import IPython
    from IPython.display import display as show
    bundle, metadata = IPython.core.formatters.format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    show({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure for a numbered {glue:figure} and keep the cell from showing it."""
    import matplotlib.pyplot as plt
    glue(name, fig)
    plt.close(fig)


class Text:
    """A string whose plain-text form has no quotes (for {glue:text})."""

    def __init__(self, text: str):
        self.text = str(text)

    def _repr_pretty_(self, p, cycle):
        p.text(self.text)


def glue_parameters(params: dict) -> None:
    """Glue every parameter as `p_<name>` (lists comma-separated), so that prose quotes the
    value the page ran with ({glue:text}`p_decision_batch`) instead of repeating it."""
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            v = ", ".join(map(str, v))
        glue(f"p_{k}", v if isinstance(v, (int, float)) and not isinstance(v, bool) else Text(v))


def parse_grid(spec, default) -> np.ndarray:
    """A τ grid from a parameter: None = `default`; "start:stop:step" (stop included); or a
    list of values."""
    if spec is None:
        return np.asarray(default, dtype=float)
    if isinstance(spec, str):
        try:
            start, stop, step = (float(s) for s in spec.split(":"))
        except ValueError:
            raise ValueError(f"grid {spec!r}: write start:stop:step, e.g. 0:1:0.01") from None
        if not step > 0 or stop < start:
            raise ValueError(f"grid {spec!r}: step must be > 0 and stop >= start")
        return np.round(np.arange(start, stop + step / 2, step), 10)
    if not isinstance(spec, (list, tuple, np.ndarray)):
        raise ValueError(f"grid {spec!r}: write start:stop:step (e.g. 0:1:0.01) or a list of values")
    values = np.asarray(list(spec), dtype=float)
    if values.ndim != 1 or not len(values) or np.isnan(values).any():
        raise ValueError(f"grid {spec!r}: give a non-empty list of numbers")
    return np.sort(values)


def _whole(v) -> bool:
    import numbers
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _shares(v) -> bool:
    return isinstance(v, (list, tuple)) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= 1 for x in v)


# What each analysis parameter of the pages must hold (RunConfig fields check themselves).
_VALUE_RULES = {
    "decision_batch": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
    "wide_points": (lambda v: _whole(v) and v >= 2, "a whole number >= 2"),
    "dynamic_taus": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
    "latency_repeats": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
    "fig5_batch": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
    "batch_sizes": (lambda v: isinstance(v, (list, tuple)) and v and all(_whole(x) and x >= 1 for x in v),
                    "a non-empty list of whole numbers >= 1"),
    "seeds": (lambda v: isinstance(v, (list, tuple)) and v and all(_whole(x) and x >= 0 for x in v),
              "a non-empty list of whole numbers >= 0"),
    "targets": (lambda v: _shares(v) and v, "a non-empty list of shares in (0, 1]"),
    "flops_budgets": (lambda v: _shares(v) and v, "a non-empty list of shares in (0, 1]"),
    "confidence": (lambda v: isinstance(v, float) and 0 < v < 1, "a number strictly between 0 and 1"),
    "calibrate_on": (lambda v: isinstance(v, (list, tuple)) and v and set(v) <= {"validation", "test half"},
                     'a non-empty list of "validation" and/or "test half"'),
    "thresholds": (lambda v: v is None or (isinstance(v, (list, tuple)) and v and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in v)),
                   "None or a non-empty list of entropies >= 0 (nats)"),
}


def check_values(params: dict, page: str = "the page") -> None:
    """Raise ValueError naming every analysis parameter of `params` whose value is not allowed
    (models and the τ grid included): the runner calls it for every page before any work."""
    from .config import MODELS
    problems = []
    for name, value in params.items():
        if name in _VALUE_RULES and not _VALUE_RULES[name][0](value):
            problems.append(f"{name} must be {_VALUE_RULES[name][1]}, got {value!r}")
    models = params.get("models")
    if models is not None and (isinstance(models, str) or not models
                               or any(m not in MODELS for m in models)):
        problems.append(f"models must name some of {', '.join(MODELS)}, got {models!r}")
    if "tau_grid" in params:
        try:
            parse_grid(params["tau_grid"], [0.0])
        except (ValueError, TypeError) as e:
            problems.append(f"tau_grid: {e}")
    if problems:
        raise ValueError(f"bad parameter(s) for {page}: " + "; ".join(problems))


# --- provenance -----------------------------------------------------------------------------------

def _git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    if out.returncode:
        raise OSError(out.stderr.strip())
    return out.stdout.rstrip()  # (porcelain lines start with a space: keep it)


def git_state() -> tuple[str, list[str]]:
    """(short revision of the checkout that holds `hbn`, uncommitted changed code files).

    Only code counts (`CODE_PATHS`): executed pages, runs and figures are outputs."""
    try:
        rev = _git("rev-parse", "--short", "HEAD").strip()
        status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)", []
    return rev, [line[3:] for line in status.splitlines() if line.strip()]


def machine() -> dict:
    import torch
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}


@dataclasses.dataclass
class Provenance:
    """Which revision executed a page, when, where; shown as one line (red if the tree was dirty)."""
    revision: str
    dirty: list
    time: str
    machine: dict
    precision: str
    extra: str = ""

    def line(self) -> str:
        m = self.machine
        return (f"Executed at revision `{self.revision}` on {self.time} · CPU {m['cpu']} "
                f"({m['cores']} cores, {m['threads']} threads) · GPU {m['gpu']} · "
                f"precision: {self.precision}" + (f" · {self.extra}" if self.extra else ""))

    def warning(self) -> str:
        files = ", ".join(self.dirty[:8]) + (" …" if len(self.dirty) > 8 else "")
        return (f"Executed from a working tree with uncommitted changes ({files}): revision "
                f"`{self.revision}` alone does not reproduce this page.")

    def _repr_markdown_(self) -> str:
        out = f"<small>{self.line()}</small>\n"
        if self.dirty:
            out += f"\n```{{admonition}} Uncommitted changes\n:class: error\n{self.warning()}\n```\n"
        return out

    def _repr_html_(self) -> str:
        out = f"<p><small>{self.line()}</small></p>"
        if self.dirty:
            out += f'<p style="color:#c00;font-weight:bold">{self.warning()}</p>'
        return out


def provenance(precision: str = "float64 (NumPy), from exit records", extra: str = "") -> Provenance:
    rev, dirty = git_state()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Provenance(rev, dirty, now, machine(), precision, extra)


# --- a run's effective configuration --------------------------------------------------------------

def data_folder(dataset: str, data_dir: str = "") -> str:
    """The folder a dataset is read from on this machine (no download), or why there is none."""
    from . import data as D
    if dataset == "synthetic":
        return "none: generated in memory"
    root = D.default_data_dir(data_dir or None)
    if dataset == "cifar100":  # existence only: no extraction, no checksums here
        for path in (root / "cifar-100-python", root / D.CIFAR100_ARCHIVE[0]):
            if path.exists():
                return str(path.resolve())
        return f"not available on this machine (looked in {root.resolve()})"
    try:
        return str(Path(D.fashion_mnist_dir(root, download=False)).resolve())
    except D.DataUnavailable:
        return f"not available on this machine (looked in {root.resolve()})"


def effective_config(cfg, given: dict, meta: dict, run: Path, data: str) -> list[tuple]:
    """(field, effective value, where it came from) for every RunConfig field: the loss
    weights resolved, the device and precision the run trained with, the data folder read."""
    from .config import PROFILES
    profile = PROFILES.get(cfg.profile, {})
    w_f, w_c = cfg.granularity_weights
    resolved = {"fine_weight": w_f, "coarse_weight": w_c, "out_dir": str(run),
                "device": f"{meta.get('device', cfg.device)} ({meta.get('precision', 'precision not recorded')})",
                "data_dir": data}
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        source = ("parameter" if given.get(f.name) is not None
                  else "profile" if f.name in profile else "RunConfig default")
        if f.name in ("fine_weight", "coarse_weight") and value is None:
            source = "the model's default"
        if f.name == "device":
            source = f"recorded in meta.json ({cfg.device} asked)"
        if f.name == "data_dir":
            source = f"resolved on this machine ({cfg.data_dir or 'default'} asked)"
        if f.name == "out_dir":
            source = "the run folder"
        rows.append((f.name, resolved.get(f.name, value), source))
    return rows


# --- architectures without weights ----------------------------------------------------------------

IN_CHANNELS = {"cifar100": 3, "fashion-mnist": 1, "tiny-imagenet-100": 3, "synthetic": 3}


def untrained(model: str, dataset: str, width: float = 1.0):
    """An untrained copy of `model` for `dataset`'s shapes. Cost (FLOPs, latency) does not
    depend on the weights, so the book can count and time without any."""
    from . import hierarchy as H
    from .models import create_model
    h = H.of(dataset)
    return create_model(model, h.num_fine, h.num_coarse, IN_CHANNELS[dataset], width)


def input_shape(dataset: str) -> tuple[int, int, int, int]:
    return (1, IN_CHANNELS[dataset], 32, 32)  # Fashion-MNIST zero-padded, Tiny ImageNet box-averaged


def model_flops(dataset: str, models, width: float = 1.0) -> dict:
    """Cumulative FLOPs to reach each exit, per model (hbn.cost.exit_flops, batch 1)."""
    from .cost import exit_flops
    return {m: exit_flops(untrained(m, dataset, width), input_shape(dataset)) for m in models}
