"""Figures of the study (seaborn/matplotlib): Fig. 3 (τ sweeps), Fig. 4 (model comparison),
Fig. 5 (entropies) and the extra analyses. Every figure is titled with its dataset and profile
and, given `save_to`, also written there as PNG.

Sized for the book: at most 9 inches wide with 11.5-point text or larger, so that text stays
legible at the page's rendered width (about 780 px: 9 pt or more as shown; wider content goes
into more rows); axis limits leave room around every marker; one legend per figure; accuracy
in %. tests/test_plots.py checks both rules on every figure the pages draw.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

sns.set_theme(style="whitegrid", context="notebook",
              rc={"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12.5,
                  "xtick.labelsize": 11.5, "ytick.labelsize": 11.5, "legend.fontsize": 11.5,
                  "figure.titlesize": 12.5})
WIDTH = 9.0  # inches


def suptitle(fig, text: str, **kwargs):
    """The figure's title, each line wrapped at the figure's width: a caption that names every
    departure from the paper's protocol would otherwise widen the saved PNG (bbox "tight") and
    shrink its panels on the page."""
    size = kwargs.get("fontsize", plt.rcParams["figure.titlesize"])
    width = int(fig.get_figwidth() * 72 / (0.6 * size))  # characters per line (~0.6 em each)
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in text.split("\n")), **kwargs)


def _finish(fig, title: str, save_to: Path | None, name: str):
    suptitle(fig, title)
    fig.tight_layout()
    if save_to is not None:
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110, bbox_inches="tight")
    return fig


def _entries(axes) -> dict:
    """{label: handle} over all panels, without duplicates, in the order drawn."""
    seen = {}
    for ax in np.ravel(axes):
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    return seen


def _legend_below(fig, axes, ncol: int = 3):
    """One legend for the whole figure, below the panels, without duplicate entries."""
    seen = _entries(axes)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=ncol, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    return len(seen)


def _finish_below(fig, axes, title: str, save_to, name: str, ncol: int = 3):
    """`_finish` with one legend under the panels (room made for it)."""
    n = _legend_below(fig, axes, ncol)
    suptitle(fig, title)
    rows = -(-n // ncol)
    fig.tight_layout(rect=(0, 0.045 * rows + 0.02 * (rows > 0) + 0.03, 1, 1))
    if save_to is not None:
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110, bbox_inches="tight")
    return fig


def _padded(values, share: float = 0.1, least: float = 0.5) -> tuple[float, float]:
    """Axis limits around `values` with `share` of their range (at least `least`) on each
    side, so that no marker is cut by the axes' edge."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(share * (hi - lo), least)
    return lo - pad, hi + pad


def phase_boundary(metrics: list[dict]) -> float | None:
    """x position between the last joint and the first post-training epoch (AG-HBN), else None."""
    joint = [m["epoch"] for m in metrics if m.get("phase", "joint") == "joint"]
    post = [m["epoch"] for m in metrics if m.get("phase") == "post"]
    return (max(joint) + min(post)) / 2 if joint and post else None


def training_curves(metrics: list[dict], caption: str, save_to=None, name="training"):
    """Training loss and validation accuracy of every exit head per epoch; AG-HBN's
    post-training (a different loss, eq. 11) is drawn apart, after a phase marker."""
    df = pd.DataFrame(metrics)
    if "phase" not in df:
        df["phase"] = "joint"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.9))
    for phase, label, marker in (("joint", "training loss, joint (eq. 7)", "o"),
                                 ("post", "training loss, post-training (eq. 11)", "s")):
        d = df[df.phase == phase]
        if len(d):
            ax1.plot(d.epoch, d.train_loss, marker=marker, color="k" if phase == "joint" else "C3",
                     label=label)
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss",
            ylim=_padded(df.train_loss, least=0.01))
    heads = [c for c in df if c.startswith("val_exit")]
    for c in heads:
        exit_no, gran = c[len("val_exit"):].split("_", 1)
        ax2.plot(df.epoch, 100 * df[c], marker="o", ms=4, color=f"C{int(exit_no) - 1}",
                 ls="-" if gran == "fine" else "--", label=f"exit {exit_no}, {gran}")
    ax2.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy per exit")
    boundary = phase_boundary(metrics)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if boundary is not None:
            ax.axvspan(boundary, df.epoch.max() + 0.5, color="C3", alpha=0.08)
            ax.axvline(boundary, color="C3", ls=":", lw=1.2, label="AG-HBN switches to post-training")
    return _finish_below(fig, (ax1, ax2), caption, save_to, name, ncol=3)


def tau_sweeps(sweeps: pd.DataFrame, regions: pd.DataFrame, caption: str, save_to=None,
               name="fig3-tau-sweep"):
    """Fig. 3: accuracy (top) and specificity (bottom) against τ per forced branch, both
    routing modes; the shaded band is the batch-mode operating region."""
    exits = sorted(sweeps["exit"].unique())
    fig, axes = plt.subplots(2, len(exits), figsize=(WIDTH, 5.6), squeeze=False, sharex="col",
                             sharey="row")
    for k, e in enumerate(exits):
        top, bottom = axes[0][k], axes[1][k]
        for mode, style in (("sample", "-"), ("batch", "--")):
            s = sweeps[(sweeps["exit"] == e) & (sweeps["mode"] == mode)]
            if not len(s):
                continue
            what = "per image" if mode == "sample" else f"per batch of {int(s.batch_size.iloc[0])}"
            top.plot(s.tau, 100 * s.accuracy, style, color="C0", label=f"decided {what}")
            bottom.plot(s.tau, s.specificity, style, color="C0", label=f"decided {what}")
        r = regions[(regions["exit"] == e) & (regions["mode"] == "batch")]
        if len(r) and np.isfinite(r.iloc[0]["start"]):
            for ax in (top, bottom):
                ax.axvspan(r.iloc[0]["start"], r.iloc[0]["end"], color="C1", alpha=0.25,
                           label="operating region (per batch)")
        top.set(title=f"branch {e}")
        bottom.set(xlabel="fine tolerance τ", ylim=(-0.04, 1.04))
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[1][0].set_ylabel("specificity δ")
    return _finish_below(fig, axes, f"Fig. 3 — accuracy and specificity vs τ, forced exits\n{caption}",
                         save_to, name, ncol=3)


def tau_scale_free(sweeps: pd.DataFrame, scales: pd.DataFrame, authors: pd.DataFrame,
                   authors_half: dict, caption: str, save_to=None, name="tau-scale-free"):
    """Fig. 3's specificity without the entropies' scale, batch-mean decisions, per branch.

    Top: ours against τ / median |e_f - e_c| of the branch (the per-image entropy gap; the
    authors' is not published). Bottom: ours and the authors' against τ / (τ at δ = 0.5),
    the one scale both have. sweeps: seed, exit, tau, specificity; scales: seed, exit,
    median_gap, tau_half; authors: branch, tau, specificity (`AUTHORS_FIG3`); authors_half:
    branch -> their τ at δ = 0.5.
    """
    exits = sorted(sweeps["exit"].unique())
    fig, axes = plt.subplots(2, len(exits), figsize=(WIDTH, 6.6), squeeze=False, sharey=True)
    lo_x, hi_x = 0.45, 1.55  # bottom row; no authors' marker is drawn on the frame
    for k, e in enumerate(exits):
        top, bottom = axes[0][k], axes[1][k]
        moving, shown = [], []
        for j, (seed, s) in enumerate(sweeps[sweeps["exit"] == e].groupby("seed")):
            sc = scales[(scales["exit"] == e) & (scales["seed"] == seed)].iloc[0]
            label = "ours, batch-mean δ (one line per seed)" if j == 0 else None
            x = s.tau / sc.median_gap  # inf or NaN where the median gap is 0
            top.plot(x, s.specificity, color="C0", lw=1.3, alpha=0.8, label=label)
            bottom.plot(s.tau / sc.tau_half, s.specificity, color="C0", lw=1.3, alpha=0.8)
            finite = np.isfinite(x)
            moving.append(x[finite & (s.specificity > 0) & (s.specificity < 1)])
            shown.append(x[finite])
        # Frame where δ moves; a branch whose δ never leaves 0 or 1 (an untrained net) shows
        # its whole finite range, and one without a finite point the unit interval.
        moving = pd.concat(moving)
        if not len(moving):
            moving = pd.concat(shown)
        if len(moving):
            pad = 0.35 * (moving.max() - moving.min()) or 1.0
            top.set_xlim(moving.min() - pad, moving.max() + pad)
        else:
            top.set_xlim(-0.05, 1.05)
        g = authors[authors["branch"] == e]
        x = g.tau / authors_half[e]
        keep = (x > lo_x + 0.02) & (x < hi_x - 0.02)
        bottom.plot(x[keep], g.specificity[keep], "o-", color="k", ms=5, lw=1.2,
                    label="authors, CIFAR-100 (their Fig. 3, grid step 0.02)")
        bottom.axhline(0.5, color="C7", ls=":", lw=1)
        bottom.set_xlim(lo_x, hi_x)
        top.set(title=f"branch {e}", xlabel="τ / median |e_f − e_c|", ylim=(-0.05, 1.05))
        bottom.set(xlabel="τ / (τ at δ = 0.5)", ylim=(-0.05, 1.05))
    axes[0][0].set_ylabel("specificity δ")
    axes[1][0].set_ylabel("specificity δ")
    return _finish_below(fig, axes, f"Fig. 3 without the entropy scale — batch-mean decisions, "
                         f"forced exits\n{caption}", save_to, name, ncol=1)


def comparison(points: pd.DataFrame, curves: pd.DataFrame, caption: str, save_to=None,
               name="fig4-comparison"):
    """Fig. 4: accuracy vs specificity per branch; Gran-HBN a curve over τ, others points.

    points: model, exit, specificity, accuracy (fractions); curves: exit, specificity,
    accuracy, mode.
    """
    exits = sorted(points["exit"].unique())
    fig, axes = plt.subplots(1, len(exits), figsize=(WIDTH, 4.0), squeeze=False, sharey=True)
    models = list(points["model"].unique())
    markers = dict(zip(models, "^osDvP"))
    colors = {m: f"C{i}" for i, m in enumerate(models)}  # one colour per model in every panel
    for ax, e in zip(axes[0], exits):
        for mode, style in (("sample", "-"), ("batch", ":")):
            c = curves[(curves["exit"] == e) & (curves["mode"] == mode)].sort_values("specificity")
            if len(c):
                what = "per image" if mode == "sample" else "per batch"
                ax.plot(c.specificity, 100 * c.accuracy, style, color="C7",
                        label=f"Gran-HBN over τ, decided {what}")
        for model, p in points[points["exit"] == e].groupby("model", sort=False):
            # open markers of different shapes: models at the same point (δ = 1) stay visible
            ax.scatter(p.specificity, 100 * p.accuracy, marker=markers[model], s=70, zorder=3,
                       facecolors="none", edgecolors=colors[model], linewidths=2, label=model)
        ax.set(xlabel="specificity δ", title=f"branch {e}", xlim=(-0.08, 1.08))
    axes[0][0].set(ylabel="test accuracy (%)", ylim=_padded(100 * pd.concat(
        [points.accuracy.dropna(), curves.accuracy.dropna()])))
    return _finish_below(fig, axes, f"Fig. 4 — models compared per branch\n{caption}", save_to,
                         name, ncol=3)


def entropies(a: dict, caption: str, save_to=None, name="fig5-entropy", batch_size: int = 64,
              seed: int = 0):
    """Fig. 5 under both statistics, one panel above the other, fine and coarse per branch (nats).

    Top, the paper's: the mean entropy of each consecutive batch of `batch_size` test
    images (dots), their mean (marker) and min–max range (bar). Bottom, ours: every image, as
    box plots with whiskers at the min and max. Each panel has its own y axis, from 0 to above
    its largest entropy, so no data are clipped (fine entropy can reach ln(#fine classes)) and
    the batch means, a narrow band, are not squashed by the per-image range.
    `a`: hbn.records.as_arrays output.
    """
    from .entropies import entropy_units, statistic_label
    colours = {"fine": "C0", "coarse": "C1"}
    # Stacked, not side by side: the book's text column is ~780 px wide, and two panels in a row
    # would shrink the labels below the body text's small print.
    fig, axes = plt.subplots(2, 1, figsize=(8.5, 9.5), layout="constrained")
    rng = np.random.default_rng(seed)
    exits = [int(e) for e in a["exits"]]
    for ax, per in zip(axes, ("batch", "image")):
        hi = 0.0
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
        ax.set_title(f"{statistic_label(per, batch_size)}\n{what}", fontsize=14)
        ax.set_xticks(exits, [f"branch {e}" for e in exits], fontsize=13)
        ax.set_xlim(min(exits) - 0.6, max(exits) + 0.6)
        ax.tick_params(axis="y", labelsize=13)
        ax.set_ylabel("entropy (nats)", fontsize=13)
        hi = hi if hi > 0 else 1.0
        ax.set_ylim(-0.03 * hi, 1.06 * hi)  # entropies lie in [0, ln C]: nothing on an edge
    handles = [plt.Line2D([], [], marker="s", ls="", ms=10, color=colours[g], label=f"{g} head")
               for g in colours]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=13)
    suptitle(fig, f"Fig. 5 — fine and coarse classification entropies per branch\n{caption}",
             fontsize=13)
    if save_to is not None:
        fig.savefig(Path(save_to) / f"{name}.png", dpi=110)
    return fig


def dynamic_tradeoff(df: pd.DataFrame, caption: str, save_to=None, name="dynamic-exits"):
    """Dynamic early exits (Algorithm 1): accuracy vs mean FLOPs, coloured by specificity."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 4.3))
    sc = ax.scatter(df["mean_flops"] / 1e6, 100 * df["accuracy"], c=df["specificity"],
                    cmap="viridis", s=14, vmin=0, vmax=1)
    fig.colorbar(sc, ax=ax, label="specificity δ")
    ax.set(xlabel="mean MFLOPs per image", ylabel="test accuracy (%)",
           title="Algorithm 1 over thresholds Th and τ (per-image routing)")
    return _finish(fig, caption, save_to, name)


def routing_modes(curves: pd.DataFrame, caption: str, save_to=None, name="sample-vs-batch"):
    """Accuracy vs specificity per branch for per-image and per-batch routing."""
    exits = sorted(curves["exit"].unique())
    fig, axes = plt.subplots(1, len(exits), figsize=(WIDTH, 3.8), squeeze=False, sharey=True)
    for ax, e in zip(axes[0], exits):
        for k, (mode, style) in enumerate((("sample", "-"), ("batch", "--"))):
            c = curves[(curves["exit"] == e) & (curves["mode"] == mode)]
            if len(c):
                what = "per image" if mode == "sample" else f"per batch of {int(c.batch_size.iloc[0])}"
                ax.plot(c.specificity, 100 * c.accuracy, style, color=f"C{k}", label=f"decided {what}")
        ax.set(xlabel="specificity δ", title=f"branch {e}", xlim=(-0.05, 1.05))
    axes[0][0].set_ylabel("test accuracy (%)")
    return _finish_below(fig, axes, f"Per-image vs per-batch routing (forced exits, τ swept)\n{caption}",
                         save_to, name, ncol=2)


def latency(df: pd.DataFrame, caption: str, save_to=None, name="latency"):
    """Measured batch-1 latency per exit (median with interquartile range)."""
    fig, ax = plt.subplots(figsize=(WIDTH * 0.8, 4.0))
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        ax.errorbar(d["exit"] + 0.08 * i, d["median_ms"], fmt="o", capsize=3, label=model,
                    yerr=[d["median_ms"] - d["q25_ms"], d["q75_ms"] - d["median_ms"]])
    ax.set(xlabel="exit (branch)", ylabel="latency, ms (median, IQR)", xticks=[1, 2, 3],
           title="forward pass that stops at the exit, batch 1")
    ax.set(xlim=(0.7, 3.5), ylim=(0, 1.15 * df["q75_ms"].max()))  # no point on an edge
    return _finish_below(fig, [ax], caption, save_to, name, ncol=3)


def operating_curves(curves: pd.DataFrame, points: pd.DataFrame | None, caption: str,
                     save_to=None, name="operating-point"):
    """Accuracy vs specificity per branch, one curve per granularity selector (hbn.selection).

    curves: selector, exit, specificity, accuracy; points (optional): label, exit,
    specificity, accuracy, marked on top (e.g. AG-HBN's semantic exit at 0.5).
    """
    exits = sorted(curves["exit"].unique())
    # Two panels a row (three in a row would shrink the text below legibility in the book's
    # column); with an odd number of panels the legend takes the free cell.
    ncols = min(2, len(exits))
    rows = -(-len(exits) // ncols)
    fig, grid = plt.subplots(rows, ncols, figsize=(WIDTH, 3.6 * rows + 0.6), squeeze=False)
    axes, spare = list(grid.flat[:len(exits)]), list(grid.flat[len(exits):])
    selectors = list(curves["selector"].unique())
    colors = {s: ("k" if s.startswith("oracle") else f"C{i}") for i, s in enumerate(selectors)}
    for ax, e in zip(axes, exits):
        for s in selectors:
            c = curves[(curves["exit"] == e) & (curves["selector"] == s)]
            if len(c):
                ax.plot(c.specificity, 100 * c.accuracy, ":" if s.startswith("oracle") else "-",
                        color=colors[s], lw=1.4, label=s)
        if points is not None:
            for i, (label, p) in enumerate(points[points["exit"] == e].groupby("label", sort=False)):
                same = [s for s in selectors if label.startswith(s.split()[0])]  # its curve's colour
                ax.scatter(p.specificity, 100 * p.accuracy, marker="*^sD"[i % 4], s=110, zorder=4,
                           color=colors[same[0]] if same else "C6", edgecolor="k", label=label)
        ax.set(xlabel="specificity δ (share of fine answers)", ylabel="test accuracy (%)",
               title=f"branch {e}", xlim=(-0.04, 1.04))
        acc = [curves.loc[curves["exit"] == e, "accuracy"]]
        if points is not None:
            acc.append(points.loc[points["exit"] == e, "accuracy"])
        ax.set_ylim(_padded(100 * pd.concat(acc), 0.06))
    title = f"Choosing the operating point — granularity selectors, per image, test set\n{caption}"
    if not spare:
        return _finish_below(fig, axes, title, save_to, name, ncol=2)
    seen = _entries(axes)
    for ax in spare:
        ax.axis("off")
    spare[0].legend(list(seen.values()), list(seen), loc="center", frameon=False)
    return _finish(fig, title, save_to, name)
