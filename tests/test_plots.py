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
