"""Metrics, τ sweeps and operating regions, checked by hand and against per-τ loops."""
import numpy as np
import pandas as pd
import pytest

from hbn import analysis as A, records, routing as R

F2C = np.array([0, 0, 1, 1, 2, 2])  # 6 fine classes in 3 superclasses


def make(fine_pred, coarse_pred, fine_true, ef=None, ec=None):
    fine_pred = np.asarray(fine_pred)
    n, b = fine_pred.shape
    fine_true = np.asarray(fine_true)
    return dict(
        exits=np.arange(1, b + 1), fine_true=fine_true, coarse_true=F2C[fine_true],
        fine_pred=fine_pred, coarse_pred=np.asarray(coarse_pred),
        fine_pred_coarse=np.where(fine_pred >= 0, F2C[fine_pred.clip(0)], -1),
        fine_entropy=np.zeros((n, b)) if ef is None else np.asarray(ef, float),
        coarse_entropy=np.zeros((n, b)) if ec is None else np.asarray(ec, float),
        sem_prob_fine=np.full(n, np.nan))


def random_a(n=300, b=3, seed=0):
    rng = np.random.default_rng(seed)
    ft = rng.integers(0, 6, n)
    fp = np.where(rng.random((n, b)) < 0.6, ft[:, None], rng.integers(0, 6, (n, b)))
    cp = np.where(rng.random((n, b)) < 0.8, F2C[ft][:, None], rng.integers(0, 3, (n, b)))
    ef = rng.gamma(2.0, 0.5, (n, b)).round(2)  # rounded: many ties, taus hit d exactly
    ec = rng.gamma(2.0, 0.3, (n, b)).round(2)
    return make(fp, cp, ft, ef, ec)


# --- score ---------------------------------------------------------------------------------------

@pytest.fixture
def four():
    # image: true fine 0,1,2,4 (coarse 0,0,1,2). Two exits.
    return make(fine_pred=[[0, 0], [0, 1], [3, 2], [5, 4]],  # exit 0: img 0 right
                coarse_pred=[[0, 0], [1, 0], [1, 1], [0, 0]],  # exit 1: img 3 wrong
                fine_true=[0, 1, 2, 4])


def test_score_by_hand(four):
    e, f = np.array([0, 0, 0, 1]), np.array([True, True, True, False])
    s = A.score(four, e, f, flops=[10.0, 30.0])
    # fine@0: img0 right, img1 wrong (0 != 1), img2 wrong (3 != 2); coarse@1: img3 wrong
    assert s["accuracy"] == pytest.approx(1 / 4)
    assert s["specificity"] == pytest.approx(3 / 4)
    # at coarse level img1 (0 -> super 0 == 0) and img2 (3 -> super 1 == 1) become right
    assert s["hierarchical_accuracy"] == pytest.approx(3 / 4)
    assert s["exit_share"] == [0.75, 0.25]
    assert s["mean_flops"] == pytest.approx((3 * 10 + 30) / 4)


def test_specificity_batch_mode_is_mean_over_chunks(four):
    a = make(*(np.concatenate([x, x[:1]]) for x in (four["fine_pred"], four["coarse_pred"],
                                                    four["fine_true"])))
    e, f = np.zeros(5, int), np.array([True, True, False, False, True])  # chunks {01}{23}{4}
    assert A.score(a, e, f, mode="batch", batch_size=2)["specificity"] == pytest.approx(2 / 3)
    assert A.score(a, e, f)["specificity"] == pytest.approx(3 / 5)


def test_score_rejects_missing_head_and_bad_shapes(four):
    four["fine_pred"][:, 0] = -1  # exit 0 has no fine head (Sem-AlexNet style)
    with pytest.raises(ValueError, match="no fine head"):
        A.score(four, np.zeros(4, int), np.ones(4, bool))
    assert A.score(four, np.zeros(4, int), np.zeros(4, bool))["specificity"] == 0
    with pytest.raises(ValueError, match="shape"):
        A.score(four, np.zeros(3, int), np.zeros(3, bool))
    with pytest.raises(ValueError, match="exit_index"):
        A.score(four, np.full(4, 2), np.zeros(4, bool))
    with pytest.raises(ValueError, match="flops"):
        A.score(four, np.zeros(4, int), np.zeros(4, bool), flops=[1.0])


def test_score_reads_records_arrays():
    rows = []
    for img, (ft, fp, cp, e_f, e_c) in enumerate([(0, 0, 0, 0.1, 0.5), (2, 3, 1, 0.9, 0.2)]):
        rows.append(dict(image=img, exit=1, fine_true=ft, coarse_true=F2C[ft], fine_pred=fp,
                         fine_pred_coarse=F2C[fp], coarse_pred=cp, fine_entropy=e_f,
                         coarse_entropy=e_c, fine_maxprob=0.5, coarse_maxprob=0.5,
                         sem_prob_fine=np.nan))
    a = records.as_arrays(pd.DataFrame(rows, columns=records.COLUMNS))
    e, f = R.gran_hbn(a["fine_entropy"], a["coarse_entropy"], 1.0, 0.0)
    assert f.tolist() == [True, False]  # d = -0.4 < 0; d = 0.7
    s = A.score(a, e, f)
    assert s["accuracy"] == 1.0 and s["specificity"] == 0.5
    assert A.tau_sweep(a, [0.0], branch=0)["accuracy"].item() == 1.0


# --- τ sweeps ------------------------------------------------------------------------------------

def test_forced_sweep_by_hand():
    # d = e_f - e_c = [-0.5, 0, 0.5]; fine right for img 0, 1; coarse right for img 2
    a = make(fine_pred=[[0], [1], [0]], coarse_pred=[[1], [1], [1]], fine_true=[0, 1, 2],
             ef=[[0.5], [1.0], [1.5]], ec=[[1.0], [1.0], [1.0]])
    df = A.tau_sweep(a, [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0], branch=0)
    assert df["specificity"].tolist() == pytest.approx([0, 0, 1 / 3, 2 / 3, 2 / 3, 1])
    # all coarse: only img 2 right; fine {0}: 0,2 right; fine {0,1}: all; all fine: 0,1 right
    assert df["accuracy"].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1, 1, 2 / 3])
    assert set(df.columns) >= {"tau", "accuracy", "specificity", "hierarchical_accuracy",
                               "branch", "exit", "mode", "batch_size", "rule"}
    assert df["exit"].iloc[0] == 1 and df["branch"].iloc[0] == 0


def naive_sweep(a, taus, branch, mode, bs, threshold, flops):
    out = []
    for t in taus:
        if branch is None:
            e, f = R.gran_hbn(a["fine_entropy"], a["coarse_entropy"], threshold, t, mode, bs)
        else:
            e = np.full(len(a["fine_true"]), branch)
            f = R.gran_hbn_forced(a["fine_entropy"][:, branch], a["coarse_entropy"][:, branch],
                                  t, mode, bs)
        out.append(A.score(a, e, f, mode, bs, flops=flops))
    return out


@pytest.mark.parametrize("mode,bs", [("sample", 512), ("batch", 7), ("batch", 64)])
@pytest.mark.parametrize("branch", [0, 1, 2, None])
def test_fast_sweep_equals_per_tau_loop(mode, bs, branch):
    a = random_a()
    d = (a["fine_entropy"] - a["coarse_entropy"]).ravel()
    taus = np.concatenate([np.linspace(-3, 4, 60), d[:40], [-np.inf, np.inf]])
    th, flops = [0.6, 0.9, 0.0], [1.0, 2.5, 4.0]
    fast = A.tau_sweep(a, taus, branch=branch, mode=mode, batch_size=bs, threshold=th,
                       flops=flops)
    for row, ref in zip(fast.itertuples(), naive_sweep(a, taus, branch, mode, bs, th, flops)):
        for k in ("accuracy", "specificity", "hierarchical_accuracy"):
            assert getattr(row, k) == pytest.approx(ref[k], abs=1e-12), (k, row.tau)
        if branch is None:
            assert [getattr(row, f"exit_share_{n}") for n in (1, 2, 3)] == pytest.approx(
                ref["exit_share"], abs=1e-12)
            assert row.mean_flops == pytest.approx(ref["mean_flops"])


def test_sweep_limits_and_errors():
    a = random_a(50)
    df = A.tau_sweep(a, [-np.inf, np.inf], branch=1, mode="batch", batch_size=8)
    assert df["specificity"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="threshold"):
        A.tau_sweep(a, [0.0])
    with pytest.raises(ValueError, match="branch"):
        A.tau_sweep(a, [0.0], branch=3)
    with pytest.raises(ValueError, match="NaN"):
        A.tau_sweep(a, [np.nan], branch=0)
    a["fine_entropy"][:, 0] = np.nan  # Sem-AlexNet: no fine head on exit 1
    with pytest.raises(ValueError, match="lacks the head"):
        A.tau_sweep(a, [0.0], branch=0)
    with pytest.raises(ValueError, match="lacks the head"):
        A.tau_sweep(a, [0.0], threshold=1.0)
    assert len(A.tau_sweep(a, [0.0], branch=1)) == 1


def test_tau_grids():
    g = A.paper_tau_grid()
    assert len(g) == 51 and g[0] == 0 and g[-1] == 1 and 0.46 in g and 0.54 in g
    a = random_a()
    w = A.wide_tau_grid(a)
    assert len(w) == 1001
    for b in range(3):
        for mode in ("sample", "batch"):
            s = A.tau_sweep(a, w, branch=b, mode=mode, batch_size=16)["specificity"]
            assert s.iloc[0] == 0 and s.iloc[-1] == 1


# --- operating regions --------------------------------------------------------------------------

def test_operating_region_by_hand():
    sweep = pd.DataFrame({"tau": [0.40, 0.42, 0.44, 0.46, 0.48, 0.50],
                          "specificity": [0.0, 0.0, 0.05, 0.5, 1.0, 1.0]})
    r = A.operating_region(sweep)
    assert r == dict(start=0.44, end=0.46, size=pytest.approx(0.02), n_points=2)
    flat = A.operating_region(sweep.assign(specificity=[0, 0, 0, 1, 1, 1.0]))
    assert np.isnan(flat["start"]) and np.isnan(flat["size"]) and flat["n_points"] == 0
    two = pd.concat([sweep.assign(branch=0), sweep.assign(branch=1)])
    with pytest.raises(ValueError, match="one sweep"):
        A.operating_region(two)


def test_operating_regions_and_batch_size():
    a = random_a(512)
    taus = A.wide_tau_grid(a)
    regions = A.operating_regions(a, taus, batch_sizes=(8, 512))
    assert len(regions) == 3 * 3  # 3 branches x (sample, batch 8, batch 512)
    # a single chunk of 512 decides once: specificity jumps 0 -> 1, no interior point
    one = regions[regions["batch_size"] == 512]
    assert (one["n_points"] == 0).all()
    sample = regions[regions["mode"] == "sample"].set_index("branch")
    eight = regions[regions["batch_size"] == 8].set_index("branch")
    assert (sample["size"] > eight["size"]).all()  # smaller decision units, wider region
    vs = A.region_vs_batch_size(a, taus, batch_sizes=(1, 8, 64))
    assert set(vs["batch_size"]) == {1, 8, 64} and (vs["mode"] == "batch").all()
    by_bs = vs.groupby("batch_size")["size"].mean()
    assert by_bs[1] >= by_bs[8] >= by_bs[64]


# --- entropies, oracle, forced accuracies -------------------------------------------------------

def test_entropy_summary_and_depth():
    ef = [[2.0, 1.0], [3.0, 1.5], [0.5, 0.2]]
    ec = [[1.0, 0.5], [1.2, 0.6], [0.8, 0.1]]
    a = make([[0, 0]] * 3, [[0, 0]] * 3, [0, 0, 0], ef, ec)
    s = A.entropy_summary(a)
    assert s["fine_median"].tolist() == [2.0, 1.0] and s["coarse_median"].tolist() == [1.0, 0.5]
    assert s["fine_mean"].iloc[0] == pytest.approx(5.5 / 3)
    assert s["overlap"].tolist() == pytest.approx([1 / 3, 1 / 3])  # e_f < median e_c
    assert A.entropy_falls_with_depth(a) == {"fine": True, "coarse": True}
    a["coarse_entropy"][:, 1] = [1.0, 1.2, 0.9]  # coarse median 1.0 -> 1.0: not strictly falling
    assert A.entropy_falls_with_depth(a) == {"fine": True, "coarse": False}
    a["fine_entropy"][:, 0] = np.nan  # no fine head at exit 1: one fine branch left
    s = A.entropy_summary(a)
    assert np.isnan(s["fine_median"].iloc[0]) and np.isnan(s["overlap"].iloc[0])
    assert A.entropy_falls_with_depth(a) == {"coarse": False}


def test_oracle_and_forced_accuracy(four):
    o = A.oracle(four)
    # exit 0: fine right {0}; coarse right {0, 2}; either {0, 2}
    assert o.loc[0, "oracle_accuracy"] == 0.5 and o.loc[0, "oracle_specificity"] == 0.25
    assert o.loc[0, "all_fine_accuracy"] == 0.25 and o.loc[0, "all_coarse_accuracy"] == 0.5
    fa = A.forced_accuracy(four)
    assert fa.loc[0, "accuracy_spec0"] == 0.5 and fa.loc[0, "accuracy_spec1"] == 0.25
    assert fa.loc[0, "hierarchical_accuracy_spec1"] == 1.0  # every fine answer in right super
    assert fa.loc[1].drop(["branch", "exit"]).tolist() == [0.75, 1.0, 0.75, 1.0]
    four["fine_pred"][:, 0] = -1
    four["fine_pred_coarse"][:, 0] = -1
    o, fa = A.oracle(four), A.forced_accuracy(four)
    assert np.isnan(o.loc[0, "oracle_accuracy"]) and o.loc[0, "all_coarse_accuracy"] == 0.5
    assert np.isnan(fa.loc[0, "accuracy_spec1"]) and fa.loc[0, "accuracy_spec0"] == 0.5
