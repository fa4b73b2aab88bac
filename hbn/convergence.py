"""How a profile's schedule was chosen: validation curves of schedules of several lengths (and
of the paper's constant-lr Adam), and the fewest epochs whose final validation fine accuracy is
within a tolerance of the longest schedule's (DESIGN.md §7), unless a time budget caps the
length (the `tiny` profile). Reads run logs only.
"""
from __future__ import annotations

import pandas as pd

from . import runs
from .config import make_config


def curves(out_dir: str, dataset: str, profile: str, schedules: dict[str, dict],
           model: str = "gran-hbn", seed: int = 0) -> pd.DataFrame:
    """Long table (schedule, epochs, epoch, exit, granularity, accuracy) of validation accuracy
    per epoch, one run per schedule; `schedules` maps a label to RunConfig overrides."""
    rows = []
    for label, overrides in schedules.items():
        cfg = make_config(profile, **{**overrides, "model": model, "dataset": dataset,
                                      "seed": seed, "out_dir": out_dir})
        metrics = runs.read_metrics(runs.run_dir(cfg))
        if not metrics:
            raise FileNotFoundError(f"no training log for schedule {label!r} in {runs.run_dir(cfg)}; "
                                    f"train it with `python -m hbn train --model {model} --profile "
                                    f"{profile} --dataset {dataset} ... --out-dir {out_dir}`")
        for m in metrics:
            for key, value in m.items():
                if key.startswith("val_exit"):
                    exit_, granularity = key[len("val_exit"):].split("_", 1)
                    rows.append({"schedule": label, "epochs": cfg.epochs, "epoch": m["epoch"],
                                 "exit": int(exit_), "granularity": granularity,
                                 "accuracy": value})
    return pd.DataFrame(rows)


def finals(df: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy after each schedule's last logged epoch: one row per schedule, a
    column per exit and granularity, plus whether the run reached its planned epochs."""
    last = df[df["epoch"] == df.groupby("schedule")["epoch"].transform("max")]
    wide = last.pivot_table(index=["schedule", "epochs", "epoch"], columns=["granularity", "exit"],
                            values="accuracy")
    wide.columns = [f"{g} exit {e}" for g, e in wide.columns]
    wide = wide.reset_index().rename(columns={"epoch": "epochs run"})
    wide["complete"] = wide["epochs run"] == wide["epochs"]
    return wide


def fewest_epochs(df: pd.DataFrame, candidates: list[str], tolerance: float = 0.005,
                  max_epochs: int = 0) -> dict:
    """Among complete `candidates` (labels of schedules that differ only in length), the
    shortest whose final validation fine accuracy at every exit is within `tolerance` of the
    longest complete one's. `max_epochs` > 0 is a time budget: when that choice is longer, the
    longest candidate within the budget is chosen instead (`capped`), and `validation_choice`
    keeps what validation alone chose. Returns the choice and the gaps (longest − candidate)
    per exit."""
    f = finals(df).set_index("schedule").loc[candidates]
    f = f[f["complete"]].sort_values("epochs")
    if len(f) < 2:
        raise ValueError(f"need at least two complete schedules to compare, have {list(f.index)}")
    fine = [c for c in f.columns if c.startswith("fine exit")]
    longest = f.iloc[-1]
    gaps = {label: {c: float(longest[c] - row[c]) for c in fine} for label, row in f.iterrows()}
    by_validation = next(label for label, g in gaps.items() if max(g.values()) <= tolerance)
    chosen = by_validation
    if max_epochs and f.loc[by_validation, "epochs"] > max_epochs:
        fits = f[f["epochs"] <= max_epochs]
        if fits.empty:
            raise ValueError(f"no complete candidate fits the budget of {max_epochs} epochs: "
                             f"{dict(f['epochs'])}")
        chosen = fits.index[-1]
    return {"chosen": chosen, "epochs": int(f.loc[chosen, "epochs"]), "longest": f.index[-1],
            "tolerance": tolerance, "gaps": gaps, "validation_choice": by_validation,
            "capped": chosen != by_validation, "max_epochs": max_epochs}


def plot(df: pd.DataFrame, caption: str, save_to=None, name: str = "schedule-choice"):
    """Validation accuracy per epoch: fine and coarse panels, a colour per schedule, a line
    style per exit; integer epochs, one legend."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 5.4), sharex=True)  # plots.WIDTH: legible in the column
    colours = dict(zip(df["schedule"].unique(), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    styles = {1: ":", 2: "--", 3: "-"}
    for ax, granularity in zip(axes, ("fine", "coarse")):
        part = df[df["granularity"] == granularity]
        for (label, exit_), g in part.groupby(["schedule", "exit"], sort=False):
            ax.plot(g["epoch"], 100 * g["accuracy"], styles.get(exit_, "-"), marker=".",
                    color=colours[label], label=f"{label}, exit {exit_}")
        lo = 100 * part["accuracy"].min()
        ax.set(title=f"{granularity} head", xlabel="epoch", ylabel="validation accuracy (%)",
               ylim=(lo - 1, 100 * part["accuracy"].max() + 0.5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=2, frameon=False)
    from .plots import suptitle
    suptitle(fig, caption)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * -(-len(labels) // 2), 1, 1))
    if save_to is not None:
        from pathlib import Path
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110)
    return fig
