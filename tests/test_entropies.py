"""Fig. 5's trends with depth: per-run changes of the median entropy, their intervals over
seeds, and the steps whose reading depends on the statistic (batch means vs per image)."""
import numpy as np
import pytest

from hbn import entropies as E
from hbn.seedstats import interval

F2C = np.array([0, 0, 1, 1, 2, 2])


def arrays(ef, ec):
    ef, ec = np.asarray(ef, float), np.asarray(ec, float)
    n, b = ef.shape
    ft = np.arange(n) % 6
    pred = np.repeat(ft[:, None], b, 1)
    return dict(exits=np.arange(1, b + 1), fine_true=ft, coarse_true=F2C[ft], fine_pred=pred,
                coarse_pred=F2C[pred], fine_pred_coarse=F2C[pred], fine_entropy=ef, coarse_entropy=ec)


def skewed(seed=0, n=256):
    """The typical image's entropy (the median) rises from branch 2 to 3, but a heavy tail at
    branch 2 only makes the batch means fall there."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.2, n)
    ef = np.stack([base + 0.6, base + 0.1, base + 0.12], 1)
    ef[: n // 8, 1] += 2.0
    ef = ef[rng.permutation(n)]  # the tail spread over every batch
    return arrays(ef, ef / 2)


def test_depth_trend_by_hand():
    a = arrays([[0.9, 0.5, 0.4], [0.7, 0.3, 0.6]], [[0.4, 0.2, 0.1], [0.2, 0.2, 0.1]])
    t = E.depth_trend(a, "image")
    assert t["fine"]["medians"] == pytest.approx([0.8, 0.4, 0.5])
    assert t["fine"]["steps"] == pytest.approx([-0.4, 0.1]) and t["fine"]["change"] == pytest.approx(-0.3)
    assert t["coarse"]["change"] == pytest.approx(-0.2) and t["fine"]["n_units"] == 2
    assert t["fine"]["exits"] == [1, 2, 3]
    b = E.depth_trend(a, "batch", 2)  # one batch of two: the medians are the means
    assert b["fine"]["medians"] == pytest.approx([0.8, 0.4, 0.5]) and b["fine"]["n_units"] == 1
    no_fine = dict(a, fine_entropy=np.where([True, False, False], a["fine_entropy"], np.nan))
    assert "fine" not in E.depth_trend(no_fine, "image")  # a head at one branch: no trend


def test_trend_over_seeds_intervals_and_words():
    runs = [skewed(s) for s in range(4)]
    t = E.trend_over_seeds(runs, "image").set_index(["granularity", "step"])
    per_seed = [E.depth_trend(a, "image")["fine"]["steps"][1] for a in runs]
    m, lo, hi = interval(per_seed)
    row = t.loc[("fine", "2 → 3")]
    assert (row.mean_change, row.low, row.high) == pytest.approx((m, lo, hi))
    assert row.trend == "rises" and row.n_seeds == 4 and row.n_units == 256 and row.neighbours
    assert t.loc[("fine", "1 → 2")].trend == "falls"
    assert not t.loc[("fine", "1 → 3")].neighbours
    # the batch means of the same runs fall at branch 3: the reading depends on the statistic
    b = E.trend_over_seeds(runs, "batch", 64).set_index(["granularity", "step"])
    assert b.loc[("fine", "2 → 3")].trend == "falls"
    rev = E.trend_reversals(b.reset_index(), t.reset_index())
    assert set(zip(rev.granularity, rev.step)) == {("fine", "2 → 3"), ("coarse", "2 → 3")}
    assert rev.trend_batch.tolist() == ["falls", "falls"] and rev.trend_image.tolist() == ["rises", "rises"]


def test_trend_words_without_a_clear_change_and_with_one_seed():
    flat = [arrays(np.tile([0.5, 0.4, 0.4 + d], (8, 1)), np.tile([0.2, 0.1, 0.1], (8, 1)))
            for d in (-0.01, 0.01, -0.02, 0.02)]  # 2 → 3 changes of both signs across seeds
    t = E.trend_over_seeds(flat, "image").set_index(["granularity", "step"])
    assert t.loc[("fine", "2 → 3")].trend == "no clear change"
    one = E.trend_over_seeds(flat[:1], "image").set_index(["granularity", "step"])
    assert one.loc[("fine", "2 → 3")].trend == "falls (one seed)"
    assert np.isnan(one.loc[("fine", "2 → 3")].low)
