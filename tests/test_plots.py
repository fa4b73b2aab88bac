"""Figures: titles that name every departure from the paper's protocol wrap at the figure's
width instead of widening the saved PNG (which would shrink the panels on the book's page)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402

from hbn import plots  # noqa: E402

LONG = ("Fashion-MNIST · standard profile, NOT THE PAPER'S PROTOCOL: 20 epochs instead of 120; "
        "Adam with 1 warm-up epoch(s) to a 0.001 peak and cosine decay to 0, instead of a constant 1.5e-4")


def test_long_titles_wrap_at_the_figure_width(tmp_path):
    fig, ax = matplotlib.pyplot.subplots(figsize=(plots.WIDTH, 3))
    plots.suptitle(fig, f"Fig. X — a figure\n{LONG}")
    lines = fig._suptitle.get_text().split("\n")
    assert lines[0] == "Fig. X — a figure" and len(lines) >= 3  # given break kept, caption wrapped
    assert max(map(len, lines)) <= plots.WIDTH * 72 / (0.6 * 12.5)  # 12.5 pt: the theme's title size
    matplotlib.pyplot.close(fig)


def test_saved_figure_keeps_its_width_with_a_long_caption(tmp_path):
    metrics = [{"epoch": e, "phase": "joint", "train_loss": 1.0 / e, "val_exit1_fine": 0.5 + e / 100,
                "val_exit1_coarse": 0.6 + e / 100} for e in range(1, 4)]
    fig = plots.training_curves(metrics, LONG, save_to=tmp_path, name="t")
    width_px = mpimg.imread(tmp_path / "t.png").shape[1]
    assert width_px <= fig.get_figwidth() * 110 * 1.05, width_px  # dpi 110; bbox "tight" adds a margin
    matplotlib.pyplot.close(fig)


# --- Legible in the book's column: every figure the pages draw, on synthetic data ---------------
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from hbn import convergence  # noqa: E402

COLUMN_PX = 780  # the book's text column at a 1,400 px window (CSS px, 96 per inch)
DPI = 110  # plots.savefig


def displayed_font_pt(fig, column_px: int = COLUMN_PX, dpi: int = DPI) -> float:
    """The smallest text of `fig` in points as the book shows it: the saved PNG (bbox "tight")
    is scaled down to the column when wider, and one CSS px is 0.75 pt."""
    fig.canvas.draw()
    width_px = fig.get_tightbbox().width * dpi
    scale = min(1.0, column_px / width_px)
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes) * dpi / 96 * scale


def clipped(fig, margin_px: float = 4) -> list[str]:
    """Data points (lines in data coordinates, scatter markers) outside their axes, or whose
    marker comes within `margin_px` of the axes' edge (a marker on the edge is cut or hidden)."""
    fig.canvas.draw()
    px = fig.dpi / 72
    bad = []
    for ax in fig.axes:
        box = ax.get_window_extent()
        has_marker = lambda ln: ln.get_marker() not in (None, "", "None")  # noqa: E731
        items = [(ln.get_xydata(), ln.get_markersize() / 2 * px + margin_px if has_marker(ln) else 0)
                 for ln in ax.lines if ln.get_transform() is ax.transData]
        items += [(c.get_offsets(), np.sqrt(c.get_sizes().max()) / 2 * px + margin_px)
                  for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
        for xy, r in items:
            xy = np.asarray(xy, float)
            xy = xy[np.isfinite(xy).all(axis=1)]
            if not len(xy):
                continue
            x, y = ax.transData.transform(xy).T
            out = (x - r < box.x0 - 0.5) | (x + r > box.x1 + 0.5) | (y - r < box.y0 - 0.5) | (y + r > box.y1 + 0.5)
            if out.any():
                bad.append(f"{ax.get_title()!r}: {xy[out][:3].tolist()}")
    return bad


def _figures():
    rng = np.random.default_rng(0)
    spec = np.linspace(0, 1, 50)
    curves = pd.DataFrame([{"exit": e, "mode": m, "specificity": d, "accuracy": 0.95 - 0.04 * d ** 4,
                            "batch_size": 512} for e in (1, 2, 3) for m in ("sample", "batch") for d in spec])
    points = pd.DataFrame([{"model": m, "exit": e, "specificity": d, "accuracy": a}
                           for e in (1, 2, 3) for m, d, a in (("B-AlexNet", 1.0, 0.905), ("AG-HBN", 1.0, 0.904),
                                                            ("Sem-AlexNet", 0.0, 0.955))])
    selectors = pd.DataFrame([{"selector": s, "exit": e, "specificity": d, "accuracy": 0.955 - k * 0.01 * d ** 3}
                              for k, s in enumerate(("entropy gap (τ, paper)", "oracle (bound)", "learned"))
                              for e in (1, 2, 3) for d in spec])
    marks = pd.DataFrame([{"label": "AG-HBN, eq. (12) at 0.5", "exit": e, "specificity": 1.0, "accuracy": 0.914}
                          for e in (1, 2, 3)])
    lat = pd.DataFrame([{"model": m, "exit": e, "median_ms": e * (1 + k / 3), "q25_ms": e * (0.9 + k / 3),
                         "q75_ms": e * (1.1 + k / 3)} for k, m in enumerate(("alexnet", "b-alexnet", "gran-hbn"))
                        for e in (1, 2, 3) if m != "alexnet" or e == 3])
    dyn = pd.DataFrame({"mean_flops": rng.uniform(1e7, 1.3e8, 100), "accuracy": rng.uniform(0.9, 0.96, 100),
                        "specificity": rng.uniform(0, 1, 100)})
    metrics = [{"epoch": e, "phase": "joint" if e < 5 else "post", "train_loss": 1 / e,
                "val_exit1_fine": 0.8 + e / 100, "val_exit1_coarse": 0.85 + e / 100} for e in range(1, 7)]
    sched = pd.DataFrame([{"schedule": s, "granularity": g, "exit": e, "epoch": t, "accuracy": 0.8 + t / 100}
                          for s in ("cosine, 20 epochs (standard)", "cosine, 12 epochs", "paper: constant Adam")
                          for g in ("fine", "coarse") for e in (1, 2, 3) for t in range(1, 13)])
    ent = rng.exponential(0.05, (640, 3)) * np.where(rng.random((640, 1)) < 0.02, 40, 1)  # a heavy tail
    a = dict(exits=np.array([1, 2, 3]), fine_true=np.zeros(640, int), coarse_true=np.zeros(640, int),
             fine_pred=np.zeros((640, 3), int), coarse_pred=np.zeros((640, 3), int),
             fine_pred_coarse=np.zeros((640, 3), int), fine_entropy=ent, coarse_entropy=ent / 2)
    return {"training": lambda: plots.training_curves(metrics, LONG),
            "entropy": lambda: plots.entropies(a, LONG),
            "comparison": lambda: plots.comparison(points, curves, LONG),
            "dynamic": lambda: plots.dynamic_tradeoff(dyn, LONG),
            "routing modes": lambda: plots.routing_modes(curves, LONG),
            "latency": lambda: plots.latency(lat, LONG),
            "operating point": lambda: plots.operating_curves(selectors, marks, LONG),
            "schedule": lambda: convergence.plot(sched, LONG)}


@pytest.mark.parametrize("name", list(_figures()))
def test_figures_are_legible_in_the_column_and_clip_no_data(name):
    fig = _figures()[name]()
    assert displayed_font_pt(fig) >= 9, f"{name}: smallest text {displayed_font_pt(fig):.1f} pt in the column"
    assert not clipped(fig), clipped(fig)
    matplotlib.pyplot.close(fig)


def test_entropy_panels_each_fit_their_own_data():
    """Fig. 5's batch means, a narrow band, are not squashed by the per-image range below."""
    fig = _figures()["entropy"]()
    batch, image = fig.axes[:2]
    assert batch.get_ylim()[1] < 0.5 * image.get_ylim()[1]
    matplotlib.pyplot.close(fig)


def test_the_checks_catch_a_wide_figure_and_a_marker_on_the_edge():
    fig, ax = matplotlib.pyplot.subplots(figsize=(18, 4))  # Fig. 7 before: 1,960 px wide
    ax.scatter([1.0], [91.0], s=110)
    ax.set(xlim=(0, 1), ylim=(91, 96), xlabel="specificity δ")
    assert displayed_font_pt(fig) < 9 and clipped(fig)
    matplotlib.pyplot.close(fig)


def _scale_free_inputs(median_gap, tau_half, specificity):
    tau = np.linspace(0, 0.2, 21)
    sweeps = pd.DataFrame([{"seed": 0, "exit": e, "tau": t, "specificity": specificity(t)}
                           for e in (1, 2) for t in tau])
    scales = pd.DataFrame([{"seed": 0, "exit": e, "median_gap": median_gap, "tau_half": tau_half}
                           for e in (1, 2)])
    authors = pd.DataFrame([{"branch": e, "tau": t, "specificity": min(1.0, t / 0.2)}
                            for e in (1, 2) for t in np.linspace(0, 0.2, 11)])
    return sweeps, scales, authors, {1: 0.1, 2: 0.1}


@pytest.mark.parametrize("median_gap, tau_half, specificity", [
    (0.05, 0.1, lambda t: min(1.0, t / 0.2)),  # a trained net: δ moves across the grid
    (0.05, float("nan"), lambda t: 0.0),  # δ never leaves 0 (the CI failure: 2 epochs on smoke)
    (0.0, float("nan"), lambda t: 1.0),  # no gap at all: every τ / gap is inf or NaN
])
def test_the_scale_free_figure_frames_any_sweep(median_gap, tau_half, specificity):
    fig = plots.tau_scale_free(*_scale_free_inputs(median_gap, tau_half, specificity), LONG)
    for ax in fig.axes[:4]:
        assert np.isfinite(ax.get_xlim()).all() and ax.get_xlim()[0] < ax.get_xlim()[1]
    matplotlib.pyplot.close(fig)
