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


def entropies(a: dict, caption: str, save_to=None, name="fig5-entropy", max_points=3000):
    """Fig. 5: top, fine vs coarse entropy per image per branch; bottom, their distributions."""
    ef, ec, exits = a["fine_entropy"], a["coarse_entropy"], a["exits"]
    fig, axes = plt.subplots(2, len(exits), figsize=(4.6 * len(exits), 7), squeeze=False)
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(ef))[:max_points]
    hi = float(np.nanmax([np.nanmax(ef), np.nanmax(ec)]))
    for k, e in enumerate(exits):
        ax = axes[0][k]
        ax.scatter(ec[pick, k], ef[pick, k], s=3, alpha=0.3)
        ax.plot([0, hi], [0, hi], "k--", lw=0.8, label="e_f = e_c")
        ax.set(xlabel="coarse entropy e_c (nats)", ylabel="fine entropy e_f (nats)",
               title=f"branch {e}", xlim=(0, hi), ylim=(0, hi))
        ax.legend(fontsize=7)
        long = pd.DataFrame({"fine": ef[:, k], "coarse": ec[:, k]}).melt(
            var_name="granularity", value_name="entropy (nats)")
        sns.boxplot(long, x="granularity", y="entropy (nats)", ax=axes[1][k], showfliers=False,
                    hue="granularity", legend=False)
        axes[1][k].set(title=f"branch {e}", ylim=(0, hi))
    return _finish(fig, f"Fig. 5 — fine and coarse classification entropies\n{caption}",
                   save_to, name)


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
