"""Tables as the book shows them: no index column, one unit per quantity (accuracies in %
with 2 decimals, small differences to 2 significant digits), no e-notation, "—" where a value
does not apply, and a numbered caption. A long table is shown as a summary on the page, with
the full table one click away (`Table.collapsed`).

`table(...)` returns an object that Jupyter shows as HTML and the book renders from its
Markdown form, a MyST `table` directive that Sphinx numbers ("Table 3") and `{numref}` links to.
"""
from __future__ import annotations

import html
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

NA = "—"  # shown where a value does not apply (a head the exit lacks, an empty region, ...)


def significant(value: float, digits: int = 2, zeros: bool = True) -> str:
    """`value` to `digits` significant digits in positional notation (never e-notation):
    0.0000041, -0.030, 0.12, 1,200; without trailing zeros unless `zeros`."""
    v = float(value)
    if not math.isfinite(v) or v == 0:
        return cell(v)
    places = digits - 1 - math.floor(math.log10(abs(v)))
    if places <= 0:
        return f"{round(v, places):,.0f}"
    text = f"{v:.{places}f}"
    return text if zeros else text.rstrip("0").rstrip(".")


def cell(value, decimals: int = 3, percent: bool = False) -> str:
    """One value as text: `NA` for None/NaN, integers as such, floats to `decimals` places
    (fractions times 100 with 2 places when `percent`; values that would show fewer than 2
    significant digits to 2 significant digits), sequences comma-separated, mappings as "key: value; ..."."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return NA
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, dict):  # {"a": 1, "b": {"c": 2}} -> "a: 1; b: c = 2"
        inner = lambda v: (", ".join(f"{k} = {cell(x, decimals)}" for k, x in v.items()) or NA  # noqa: E731
                           if isinstance(v, dict) else cell(v, decimals, percent))
        return "; ".join(f"{k}: {inner(v)}" for k, v in value.items()) or NA
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(cell(v, decimals, percent) for v in value) or NA
    if isinstance(value, numbers.Integral) and not percent:
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return NA
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if percent:
            return f"{100 * v:.2f}"
        if v != 0 and abs(v) < 10 ** (1 - decimals):  # fewer than 2 digits would show
            return significant(v, zeros=False)
        if abs(v) >= 1e6:
            return f"{v:,.0f}"
        return f"{v:.{decimals}f}"
    return str(value)


def format_frame(df: pd.DataFrame, percent=(), decimals: dict | int = 3) -> pd.DataFrame:
    """Every value as text (see `cell`); `percent` columns (fractions) become % and their
    header gains " (%)"; `decimals` is one number or a {column: places} mapping."""
    df = df.reset_index(drop=True)
    out = {}
    for col in df.columns:
        pct = col in percent
        places = decimals.get(col, 3) if isinstance(decimals, dict) else decimals
        name = str(col).replace("_", " ")  # "batch size", not "batch_size": headers may wrap
        name = f"{name} (%)" if pct and "%" not in name else name
        out[name] = [cell(v, places, pct) for v in df[col]]
    return pd.DataFrame(out)


def _numeric(values) -> bool:
    def num(s):
        try:
            float(s.replace(",", "").replace("−", "-").lstrip("≈"))
            return True
        except ValueError:
            return s in (NA, "∞", "−∞")
    return all(num(v) for v in values) and any(v != NA for v in values)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class Table:
    """A formatted table with its caption, label (`name`) and an optional note below it."""
    frame: pd.DataFrame  # strings, as shown
    caption: str
    name: str
    note: str = ""

    def markdown(self) -> str:
        cols = list(self.frame.columns)
        align = ["---:" if _numeric(self.frame[c]) else ":---" for c in cols]
        rows = ["| " + " | ".join(_md(c) for c in cols) + " |", "| " + " | ".join(align) + " |"]
        rows += ["| " + " | ".join(_md(v) for v in r) + " |" for r in self.frame.itertuples(index=False)]
        body = "\n".join(rows)
        note = f"\n\n{self.note}\n" if self.note else "\n"
        return f"```{{table}} {_md(self.caption)}\n:name: {self.name}\n\n{body}\n```{note}"

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_html_(self) -> str:
        table = self.frame.to_html(index=False, escape=True, border=0)
        cap = f"<caption>{html.escape(self.caption)}</caption>"
        table = table.replace(">", ">" + cap, 1)
        note = f"<p><small>{html.escape(self.note)}</small></p>" if self.note else ""
        return table + note


def table(df: pd.DataFrame, caption: str, name: str, percent=(), decimals: dict | int = 3,
          note: str = "", two_digits=(), csv_to: Path | None = None) -> Table:
    """A numbered table for the book: `name` is its label (unique in the book, e.g.
    "tbl-forced"), `percent` the columns holding fractions to show as %, `two_digits` those
    shown to 2 significant digits (small differences). `csv_to` (a page's figures folder):
    also write the unformatted table there as `<name>.csv`, linked from the note for download."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"table name {name!r}: use letters, digits, - and _ only")
    shown = format_frame(df, percent, decimals)
    for col, shown_col in zip(df.columns, shown.columns):
        if col in two_digits:
            shown[shown_col] = [significant(v) if isinstance(v, numbers.Real) and np.isfinite(v)
                                else cell(v) for v in df[col]]
    has_na = NA in shown.to_numpy()
    if not has_na and f"{NA}:" in note:  # explain the dash only where one is shown
        note = note.split(f"{NA}:")[0].strip()
    if has_na and f"{NA}:" not in note:
        note = (note + " " if note else "") + f"{NA}: not applicable."
    if csv_to is not None:
        path = Path(csv_to) / f"{name}.csv"
        df.to_csv(path, index=False)
        link = Path(os.path.relpath(path.resolve(), Path.cwd().resolve())).as_posix()
        note = f"{note} The full table as CSV: {{download}}`{path.name} <{link}>`.".strip()
    return Table(shown, caption, name, note)


def key_value(mapping: dict, caption: str, name: str, key: str = "name", value: str = "value",
              note: str = "", decimals: int = 4) -> Table:
    """A two-column table of a mapping (parameters, facts), values shown as given."""
    df = pd.DataFrame({key: list(mapping), value: [cell(v, decimals) for v in mapping.values()]})
    return table(df, caption, name, note=note)
