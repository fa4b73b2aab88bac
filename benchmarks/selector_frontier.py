"""Granularity selectors on one frontier, per run folder: AUC and specificity kept at
all-coarse accuracy - 0.5 pt per branch (test set, per image), the learned selectors (both targets) fitted on
the run's validation records, and learned - τ. Prints a table; writes JSON beside the other results.

    python benchmarks/selector_frontier.py runs/fashion-mnist/quick/gran-hbn-s0 [...] [--ag RUN] [--out NAME]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hbn import selection as S
from hbn.records import as_arrays, load_records


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="Gran-HBN run folders (records + validation records)")
    ap.add_argument("--ag", type=Path, help="an AG-HBN run folder, for its swept semantic exit")
    ap.add_argument("--out", default="selectors")
    args = ap.parse_args()
    ag = as_arrays(load_records(args.ag)) if args.ag else None
    rows = []
    for run in args.runs:
        test, val = as_arrays(load_records(run)), as_arrays(load_records(run, split="val"))
        for b in range(len(test["exits"])):
            c = S.selector_curves(test, b, [S.fit_learned(val, b, t) for t in S.LEARNED], ag)
            for _, r in S.curve_summary(c).iterrows():
                rows.append({"run": str(run), **r.to_dict()})
    df = pd.DataFrame(rows)
    print(df.pivot_table(index=["run", "selector"], columns="exit",
                         values=["auc", "specificity_kept"]).round(4).to_string())
    wide = df.pivot_table(index=["run", "exit"], columns="selector", values=["auc", "specificity_kept"])
    gain = pd.DataFrame({(m, label): wide[(m, label)] - wide[(m, S.PAPER_TAU)]
                         for label in S.LEARNED.values() for m in ("auc", "specificity_kept")})
    print("\nlearned - τ (paper):\n" + gain.round(4).to_string())
    gain.columns = [f"{m}: {label} - tau" for m, label in gain.columns]
    out = Path(__file__).parent / "results" / f"{args.out}.json"
    out.write_text(json.dumps({"rows": rows, "learned_minus_tau": gain.reset_index().to_dict("records")},
                              indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
