"""Tables as the book shows them: no index column, one unit per quantity (accuracies in %
with 2 decimals), "—" where a value does not apply, and a numbered caption.

`table(...)` returns an object that Jupyter shows as HTML and the book renders from its
Markdown form, a MyST `table` directive that Sphinx numbers ("Table 3") and `{numref}` links to.
"""
from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

NA = "—"  # shown where a value does not apply (a head the exit lacks, an empty region, ...)


def cell(value, decimals: int = 3, percent: bool = False) -> str:
    """One value as text: `NA` for None/NaN, integers as such, floats to `decimals` places
    (fractions times 100 with 2 places when `percent`), sequences comma-separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return NA
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
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
        if v != 0 and (abs(v) < 10 ** -decimals or abs(v) >= 1e6):
            return f"{v:.{max(decimals - 1, 1)}e}"
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
        name = f"{col} (%)" if pct and "%" not in str(col) else str(col)
        out[name] = [cell(v, places, pct) for v in df[col]]
    return pd.DataFrame(out)


def _numeric(values) -> bool:
    def num(s):
        try:
            float(s.replace(",", "").replace("−", "-"))
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
          note: str = "") -> Table:
    """A numbered table for the book: `name` is its label (unique in the book, e.g.
    "tbl-forced"), `percent` the columns holding fractions to show as %."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"table name {name!r}: use letters, digits, - and _ only")
    shown = format_frame(df, percent, decimals)
    has_na = NA in shown.to_numpy()
    if not has_na and f"{NA}:" in note:  # explain the dash only where one is shown
        note = note.split(f"{NA}:")[0].strip()
    if has_na and f"{NA}:" not in note:
        note = (note + " " if note else "") + f"{NA}: not applicable."
    return Table(shown, caption, name, note)


def key_value(mapping: dict, caption: str, name: str, key: str = "name", value: str = "value",
              note: str = "", decimals: int = 4) -> Table:
    """A two-column table of a mapping (parameters, facts), values shown as given."""
    df = pd.DataFrame({key: list(mapping), value: [cell(v, decimals) for v in mapping.values()]})
    return table(df, caption, name, note=note)
