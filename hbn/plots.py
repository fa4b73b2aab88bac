"""Figures of the study (seaborn/matplotlib): Fig. 3 (τ sweeps), Fig. 4 (model comparison),
Fig. 5 (entropies) and the extra analyses. Every figure is titled with its dataset and profile
and, given `save_to`, also written there as PNG.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(style="whitegrid", context="notebook")


def _finish(fig, title: str, save_to: Path | None, name: str):
    fig.suptitle(title)
    fig.tight_layout()
    if save_to is not None:
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110)
    return fig


def training_curves(metrics: list[dict], caption: str, save_to=None, name="training"):
    df = pd.DataFrame(metrics)
    acc = df.melt(id_vars="epoch", value_vars=[c for c in df if c.startswith("val_exit")],
                  var_name="head", value_name="accuracy")
    acc["head"] = acc["head"].str.replace("val_", "")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax1.plot(df.epoch, df.train_loss, marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss (eq. 7 / eq. 11)", title="loss")
    sns.lineplot(acc, x="epoch", y="accuracy", hue="head", marker="o", ax=ax2)
    ax2.set(ylabel="validation accuracy", title="validation accuracy per exit")
    ax2.legend(fontsize=7, ncols=2)
    return _finish(fig, caption, save_to, name)


def tau_sweeps(sweeps: pd.DataFrame, regions: pd.DataFrame, caption: str, save_to=None,
               name="fig3-tau-sweep"):
    """Fig. 3: accuracy and specificity against τ per forced branch, both routing modes."""
    exits = sorted(sweeps["exit"].unique())
    fig, axes = plt.subplots(1, len(exits), figsize=(5 * len(exits), 3.8), squeeze=False)
    for ax, e in zip(axes[0], exits):
        for mode, style in (("sample", "-"), ("batch", "--")):
            s = sweeps[(sweeps["exit"] == e) & (sweeps["mode"] == mode)]
            ax.plot(s.tau, s.accuracy, style, color="C0", label=f"accuracy ({mode})")
            ax.plot(s.tau, s.specificity, style, color="C1", label=f"specificity ({mode})")
        r = regions[(regions["exit"] == e) & (regions["mode"] == "batch")]
        if len(r) and np.isfinite(r.iloc[0]["start"]):
            ax.axvspan(r.iloc[0]["start"], r.iloc[0]["end"], color="C1", alpha=0.12,
                       label="operating region (batch)")
        ax.set(xlabel="fine tolerance τ", ylabel="test accuracy / specificity δ",
               title=f"branch {e}", ylim=(-0.02, 1.02))
    axes[0][0].legend(fontsize=7, loc="center left")
    return _finish(fig, f"Fig. 3 — accuracy and specificity vs τ, forced exits\n{caption}",
                   save_to, name)


def comparison(points: pd.DataFrame, curves: pd.DataFrame, caption: str, save_to=None,
               name="fig4-comparison"):
    """Fig. 4: accuracy vs specificity per branch; Gran-HBN a curve over τ, others points.

    points: model, exit, specificity, accuracy[, low, high]; curves: exit, specificity, accuracy, mode.
    """
    exits = sorted(points["exit"].unique())
    fig, axes = plt.subplots(1, len(exits), figsize=(5 * len(exits), 3.9), squeeze=False)
    models = list(points["model"].unique())
    markers = dict(zip(models, "^osDvP"))
    colors = {m: f"C{i}" for i, m in enumerate(models)}  # one colour per model in every panel
    for ax, e in zip(axes[0], exits):
        for mode, style in (("sample", "-"), ("batch", ":")):
            c = curves[(curves["exit"] == e) & (curves["mode"] == mode)].sort_values("specificity")
            if len(c):
                ax.plot(c.specificity, c.accuracy, style, color="C3", label=f"Gran-HBN over τ ({mode})")
        for model, p in points[points["exit"] == e].groupby("model", sort=False):
            ax.scatter(p.specificity, p.accuracy, marker=markers[model], s=60, zorder=3,
                       color=colors[model], label=model)
        ax.set(xlabel="specificity δ (share of fine answers)", ylabel="test accuracy",
               title=f"branch {e}", xlim=(-0.05, 1.05))
    axes[0][-1].legend(fontsize=7)
    return _finish(fig, f"Fig. 4 — models compared per branch\n{caption}", save_to, name)


def entropies(a: dict, caption: str, save_to=None, name="fig5-entropy", batch_size: int = 64,
              seed: int = 0):
    """Fig. 5 under both statistics, side by side, fine and coarse per branch (nats).

    Left, the paper's: the mean entropy of each consecutive batch of `batch_size` test
    images (dots), their mean (marker) and min–max range (bar). Right, ours: every image, as
    box plots with whiskers at the min and max. One y axis for both, from 0 to above the
    largest entropy, so no data are clipped (fine entropy can reach ln(#fine classes)).
    `a`: hbn.records.as_arrays output.
    """
    from .analysis import entropy_units, statistic_label
    colours = {"fine": "C0", "coarse": "C1"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True, layout="constrained")
    rng = np.random.default_rng(seed)
    exits = [int(e) for e in a["exits"]]
    hi = 0.0
    for ax, per in zip(axes, ("batch", "image")):
        units = dict(zip(("fine", "coarse"), entropy_units(a, per, batch_size)))
        for k, e in enumerate(exits):
            for j, (g, u) in enumerate(units.items()):
                x, col = u[:, k], colours[g]
                if np.isnan(x).all():
                    continue  # this exit has no such head
                hi = max(hi, float(x.max()))
                pos = e + (j - 0.5) * 0.36
                if per == "batch":
                    ax.scatter(pos + rng.uniform(-0.07, 0.07, len(x)), x, s=7, alpha=0.35,
                               color=col, lw=0)
                    ax.errorbar(pos, x.mean(), yerr=[[x.mean() - x.min()], [x.max() - x.mean()]],
                                fmt="D", color=col, mec="k", ms=7, capsize=6, lw=1.8)
                else:
                    ax.boxplot(x, positions=[pos], widths=0.3, whis=(0, 100), patch_artist=True,
                               boxprops=dict(facecolor=col, alpha=0.6), showfliers=False,
                               medianprops=dict(color="k"))
        what = ("dots: one batch; ◆: their mean; bar: min–max" if per == "batch"
                else "box: quartiles and median; whiskers: min–max")
        ax.set_title(f"{statistic_label(per, batch_size)}\n{what}", fontsize=12)
        ax.set_xticks(exits, [f"branch {e}" for e in exits], fontsize=11)
        ax.set_xlim(min(exits) - 0.6, max(exits) + 0.6)
        ax.tick_params(axis="y", labelsize=11)
    axes[0].set_ylabel("classification entropy (nats)", fontsize=12)
    hi = hi if hi > 0 else 1.0
    axes[0].set_ylim(-0.03 * hi, 1.06 * hi)  # entropies lie in [0, ln C]: nothing on an edge
    handles = [plt.Line2D([], [], marker="s", ls="", ms=10, color=colours[g], label=f"{g} head")
               for g in colours]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=11)
    fig.suptitle(f"Fig. 5 — fine and coarse classification entropies per branch\n{caption}",
                 fontsize=13)
    if save_to is not None:
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110)
    return fig


def dynamic_tradeoff(df: pd.DataFrame, caption: str, save_to=None, name="dynamic-exits"):
    """Dynamic early exits (Algorithm 1): accuracy vs mean FLOPs, coloured by specificity."""
    fig, ax = plt.subplots(figsize=(7, 4.3))
    sc = ax.scatter(df["mean_flops"] / 1e6, df["accuracy"], c=df["specificity"], cmap="viridis",
                    s=14, vmin=0, vmax=1)
    fig.colorbar(sc, ax=ax, label="specificity δ")
    ax.set(xlabel="mean MFLOPs per image", ylabel="test accuracy",
           title="Algorithm 1 over thresholds Th and τ (per-image routing)")
    return _finish(fig, caption, save_to, name)


def routing_modes(curves: pd.DataFrame, caption: str, save_to=None, name="sample-vs-batch"):
    """Accuracy vs specificity per branch for per-image and per-batch routing."""
    g = sns.relplot(curves, x="specificity", y="accuracy", hue="mode", col="exit", kind="line",
                    height=3.4, aspect=1.1, estimator=None, sort=False)
    g.set_axis_labels("specificity δ", "test accuracy")
    g.set_titles("branch {col_name}")
    g.figure.suptitle(f"Per-image vs per-batch routing (forced exits, τ swept)\n{caption}")
    g.figure.tight_layout()
    if save_to is not None:
        g.figure.savefig(Path(save_to) / f"{name}.png", dpi=110)
    return g.figure


def latency(df: pd.DataFrame, caption: str, save_to=None, name="latency"):
    """Measured batch-1 latency per exit (median with interquartile range)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        ax.errorbar(d["exit"] + 0.08 * i, d["median_ms"], fmt="o", capsize=3, label=model,
                    yerr=[d["median_ms"] - d["q25_ms"], d["q75_ms"] - d["median_ms"]])
    ax.set(xlabel="exit (branch)", ylabel="latency, ms (median, IQR)", xticks=[1, 2, 3],
           title="early-exit forward pass that stops at the exit, batch 1, CPU")
    ax.legend(fontsize=8)
    return _finish(fig, caption, save_to, name)


def operating_curves(curves: pd.DataFrame, points: pd.DataFrame | None, caption: str,
                     save_to=None, name="operating-point"):
    """Accuracy vs specificity per branch, one curve per granularity selector (hbn.selection).

    curves: selector, exit, specificity, accuracy; points (optional): label, exit,
    specificity, accuracy, marked on top (e.g. AG-HBN's semantic exit at 0.5).
    """
    exits = sorted(curves["exit"].unique())
    fig, axes = plt.subplots(1, len(exits), figsize=(5 * len(exits) + 3, 4.0), squeeze=False)
    selectors = list(curves["selector"].unique())
    colors = {s: ("k" if s.startswith("oracle") else f"C{i}") for i, s in enumerate(selectors)}
    for ax, e in zip(axes[0], exits):
        for s in selectors:
            c = curves[(curves["exit"] == e) & (curves["selector"] == s)]
            if len(c):
                ax.plot(c.specificity, c.accuracy, ":" if s.startswith("oracle") else "-",
                        color=colors[s], lw=1.4, label=s)
        if points is not None:
            for i, (label, p) in enumerate(points[points["exit"] == e].groupby("label", sort=False)):
                same = [s for s in selectors if label.startswith(s.split()[0])]  # its curve's colour
                ax.scatter(p.specificity, p.accuracy, marker="*^sD"[i % 4], s=110, zorder=4,
                           color=colors[same[0]] if same else "C6", edgecolor="k", label=label)
        ax.set(xlabel="specificity δ (share of fine answers)", ylabel="test accuracy",
               title=f"branch {e}", xlim=(-0.02, 1.02))
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return _finish(fig, f"Choosing the operating point — granularity selectors, per image, test set\n"
                   f"{caption}", save_to, name)
