"""`--set name=value` variants of the book (`python -m hbn book --set`): which notebook takes
each override (`route_overrides`: RunConfig fields go to training pages as parameters and to
study pages inside `overrides`) and the variant's name, a hash of its overrides
(`variant_name`), under which its runs, pages and HTML get their own folders.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

from .config import RunConfig, make_config
from .pages import declared_parameters
from .paths import NOTEBOOKS

RUN_FIELDS = {f.name for f in dataclasses.fields(RunConfig)}
# Set by the runner itself, never by --set: they name the book or say where things live.
RESERVED = {"model", "seed", "dataset", "profile", "out_dir", "data_dir", "overrides"}


def route_overrides(items, sets: dict) -> list:
    """Give each notebook the `--set` values it takes: RunConfig fields go to training pages as
    parameters and to study pages inside `overrides`; any other name goes to every notebook that
    declares it. A name no notebook takes is an error, raised before any work starts."""
    bad = sorted(set(sets) & RESERVED)
    if bad:
        raise ValueError(f"--set cannot change {', '.join(bad)}: use --profile / --dataset / "
                         f"--data-dir, or the `models` and `seeds` parameters")
    declared = {src: {n for n in declared_parameters(NOTEBOOKS / src) if not n.startswith("_")}
                for src in {i[0] for i in items}}
    known = set().union(*declared.values()) | RUN_FIELDS
    unknown = sorted(set(sets) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}: no notebook takes them. "
                         f"Known: {', '.join(sorted(known - RESERVED))}")
    run_sets = {k: v for k, v in sets.items() if k in RUN_FIELDS}
    make_config("smoke", **run_sets)  # bad values fail here, before any work
    out = []
    for src, name, params in items:
        params = dict(params)
        takes = declared[src]
        if "overrides" in takes and run_sets:
            params["overrides"] = {**params.get("overrides", {}), **run_sets}
        params.update({k: v for k, v in sets.items()
                       if k in takes and not ("overrides" in takes and k in RUN_FIELDS)})
        out.append((src, name, params))
    return out


def variant_name(profile: str, sets: dict) -> str:
    """'' without overrides, else '<profile>-<hash of the overrides>'."""
    if not sets:
        return ""
    digest = hashlib.sha256(json.dumps(sets, sort_keys=True, default=str).encode()).hexdigest()
    return f"{profile}-{digest[:8]}"
