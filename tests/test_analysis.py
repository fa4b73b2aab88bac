"""Metrics, τ sweeps and operating regions, checked by hand and against per-τ loops."""
import numpy as np
import pandas as pd
import pytest

from hbn import analysis as A, entropies as E, records, routing as R

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
    g = A.paper_tau_grid()  # the authors' np.arange(0.0, 1.0, 0.02)
    assert len(g) == 50 and g[0] == 0 and g[-1] == 0.98 and 0.46 in g and 0.54 in g
    assert np.allclose(g, np.arange(0.0, 1.0, 0.02), atol=1e-12, rtol=0)
    a = random_a()
    w = A.wide_tau_grid(a)
    assert len(w) == 1001
    for b in range(3):
        for mode in ("sample", "batch"):
            s = A.tau_sweep(a, w, branch=b, mode=mode, batch_size=16)["specificity"]
            assert s.iloc[0] == 0 and s.iloc[-1] == 1


# --- operating regions --------------------------------------------------------------------------

def region(tau, spec):
    return A.operating_region(pd.DataFrame({"tau": tau, "specificity": spec}))


TAU6 = [0.40, 0.42, 0.44, 0.46, 0.48, 0.50]


def test_operating_region_by_hand():
    # last τ with δ = 0 is 0.42, first with δ = 1 is 0.48; two points strictly inside
    r = region(TAU6, [0.0, 0.0, 0.05, 0.5, 1.0, 1.0])
    assert (r["start"], r["end"], r["n_points"]) == (0.42, 0.48, 2)
    assert r["step"] == pytest.approx(0.02) and not r["narrower_than_step"]
    assert r["size"] == pytest.approx(0.06) and r["region"] == "0.42–0.48"
    assert not r["start_beyond_grid"] and not r["end_beyond_grid"]
    # a single interior point: one grid step either side, not size 0
    r = region(TAU6, [0, 0, 0, 0.5, 1, 1.0])
    assert (r["start"], r["end"], r["n_points"]) == (0.44, 0.48, 1)
    assert r["size"] == pytest.approx(0.04)
    # a jump from 0 straight to 1 between two grid points: size one step, not NaN
    r = region(TAU6, [0, 0, 0, 1, 1, 1.0])
    assert (r["start"], r["end"], r["n_points"]) == (0.44, 0.46, 0)
    assert r["size"] == pytest.approx(0.02)
    # ... which the grid cannot measure: said in words, not printed as an interval
    assert r["narrower_than_step"] and r["region"] == "narrower than the grid step, at τ ≈ 0.450"
    # the order of the rows does not matter
    assert region(TAU6[::-1], [1, 1, 1, 0, 0, 0.0])["region"] == r["region"]
    assert region(TAU6[::-1], [1, 1, 0.5, 0, 0, 0.0])["region"] == "0.44–0.48"
    two = pd.concat([pd.DataFrame({"tau": TAU6, "specificity": 0.0}).assign(branch=k)
                     for k in (0, 1)])
    with pytest.raises(ValueError, match="one sweep"):
        A.operating_region(two)
    with pytest.raises(ValueError, match="must not fall"):
        region(TAU6, [0, 0.5, 0.2, 1, 1, 1.0])


@pytest.mark.parametrize("spec,start_out,end_out,text", [
    ([0.1, 0.2, 0.5, 1, 1, 1], True, False, "beyond the grid (below)–0.46"),  # δ > 0 at the first τ
    ([0, 0, 0.2, 0.5, 0.9, 0.9], False, True, "0.42–beyond the grid (above)"),  # never reaches 1
    ([0.1, 0.2, 0.5, 0.5, 0.9, 0.9], True, True, "wider than the grid (0 < δ < 1 on all of it)"),
    ([0, 0, 0, 0, 0, 0], True, True, "beyond the grid (above)"),  # the whole region above the grid
    ([1, 1, 1, 1, 1, 1], True, True, "beyond the grid (below)"),  # ... or below it
])
def test_operating_region_beyond_the_grid(spec, start_out, end_out, text):
    r = region(TAU6, np.asarray(spec, float))
    assert (r["start_beyond_grid"], r["end_beyond_grid"], r["region"]) == (start_out, end_out, text)
    # a limit the grid misses is NaN, never the grid's edge
    assert np.isnan(r["start"]) == start_out and np.isnan(r["end"]) == end_out
    assert np.isnan(r["size"]) == (start_out or end_out)


def test_negative_region_limits_print_a_true_minus():
    r = region(np.array([-0.3, -0.2, -0.1, 0.0, 0.1]), np.array([0, 0, 0.5, 1, 1.0]))
    assert r["region"] == "−0.2–0.0" and r["start"] == pytest.approx(-0.2)


# Authors' Fig. 3 specificity lists (DESIGN.md §5): δ = 0 before the run, the run, 1 after.
AUTHORS_FIG3_RUNS = {1: (0.48, [0.15, 0.50, 0.75]), 2: (0.52, [0.05, 0.15, 0.25, 0.75, 0.90]),
                     3: (0.44, [0.10, 0.25, 0.55, 0.75, 0.95])}


def test_table_ii_from_the_authors_fig3_data():
    from hbn.study import AUTHORS_FIG3, AUTHORS_REGIONS
    tau = A.paper_tau_grid()
    got, texts = [], []
    for branch, (first, run) in AUTHORS_FIG3_RUNS.items():
        spec = np.where(tau < first - 1e-9, 0.0, 1.0)
        i = int(np.argmin(np.abs(tau - first)))
        spec[i:i + len(run)] = run
        mine = AUTHORS_FIG3[AUTHORS_FIG3.branch == branch]
        assert mine.tau.tolist() == tau.tolist() and mine.specificity.tolist() == spec.tolist()
        r = A.operating_region(pd.DataFrame({"tau": tau, "specificity": spec}))
        got.append((branch, r["start"], r["end"], round(r["size"], 10)))
        texts.append(r["region"])
    # paper Table II: 0.46–0.54, 0.50–0.62, 0.42–0.54
    assert got == [(1, 0.46, 0.54, 0.08), (2, 0.50, 0.62, 0.12), (3, 0.42, 0.54, 0.12)]
    assert texts == ["0.46–0.54", "0.50–0.62", "0.42–0.54"]
    assert got == [tuple(x) for x in AUTHORS_REGIONS[["branch", "start", "end", "size"]]
                   .itertuples(index=False)]


def test_operating_regions_and_batch_size():
    a = random_a(512)
    taus = A.wide_tau_grid(a)
    regions = A.operating_regions(a, taus, batch_sizes=(8, 512))
    assert len(regions) == 3 * 3  # 3 branches x (sample, batch 8, batch 512)
    # a single chunk of 512 decides once: specificity jumps 0 -> 1 between two grid points
    one = regions[regions["batch_size"] == 512]
    assert (one["n_points"] == 0).all()
    assert one["size"].to_numpy() == pytest.approx(taus[1] - taus[0])
    assert not regions[["start_beyond_grid", "end_beyond_grid"]].any().any()  # wide grid
    sample = regions[regions["mode"] == "sample"].set_index("branch")
    eight = regions[regions["batch_size"] == 8].set_index("branch")
    assert (sample["size"] > eight["size"]).all()  # smaller decision units, wider region
    vs = A.region_vs_batch_size(a, taus, batch_sizes=(1, 8, 64))
    assert set(vs["batch_size"]) == {1, 8, 64} and (vs["mode"] == "batch").all()
    by_bs = vs.groupby("batch_size")["size"].mean()
    assert by_bs[1] >= by_bs[8] >= by_bs[64]


# --- entropies, oracle, forced accuracies -------------------------------------------------------

def test_entropy_summary_and_depth_per_image():
    ef = [[2.0, 1.0], [3.0, 1.5], [0.5, 0.2]]
    ec = [[1.0, 0.5], [1.2, 0.6], [0.8, 0.1]]
    a = make([[0, 0]] * 3, [[0, 0]] * 3, [0, 0, 0], ef, ec)
    s = E.entropy_summary(a, per="image")
    assert s["fine_median"].tolist() == [2.0, 1.0] and s["coarse_median"].tolist() == [1.0, 0.5]
    assert s["fine_mean"].iloc[0] == pytest.approx(5.5 / 3)
    assert s["fine_min"].tolist() == [0.5, 0.2] and s["coarse_max"].tolist() == [1.2, 0.6]
    assert s["overlap"].tolist() == pytest.approx([1 / 3, 1 / 3])  # e_f < median e_c
    assert s["ranges_overlap"].tolist() == [True, True]
    assert (s["statistic"] == "ours: per image").all() and (s["n_units"] == 3).all()
    assert E.entropy_falls_with_depth(a, per="image") == {
        "statistic": "ours: per image", "fine": True, "coarse": True}
    a["coarse_entropy"][:, 1] = [1.0, 1.2, 0.9]  # coarse median 1.0 -> 1.0: not strictly falling
    assert E.entropy_falls_with_depth(a, per="image") == {
        "statistic": "ours: per image", "fine": True, "coarse": False}
    a["fine_entropy"][:, 0] = np.nan  # no fine head at exit 1: one fine branch left
    s = E.entropy_summary(a, per="image")
    assert np.isnan(s["fine_median"].iloc[0]) and np.isnan(s["overlap"].iloc[0])
    assert s["ranges_overlap"].iloc[0] is None
    assert E.entropy_falls_with_depth(a, per="image") == {"statistic": "ours: per image",
                                                          "coarse": False}
    with pytest.raises(ValueError, match="per"):
        E.entropy_summary(a, per="batches")


def test_batch_of_64_statistic_by_hand():
    # 130 images = batches of 64, 64 and 2 (the last shorter), in test-set order
    n = 130
    ef = np.zeros((n, 2))
    ef[:64, 0], ef[64:128, 0], ef[128:, 0] = 1.0, 3.0, 8.0  # exit 1 batch means 1, 3, 8
    ef[:, 1] = np.arange(n) % 2  # exit 2: every batch mean 0.5, per image 0 or 1
    ec = np.full((n, 2), 0.25)
    ec[0, 0] = 64 * 0.25 + 6.4 - 63 * 0.25  # batch 0's coarse mean 0.35
    a = make(np.zeros((n, 2), int), np.zeros((n, 2), int), np.zeros(n, int), ef, ec)
    t = E.batch_entropies(a).set_index(["exit", "granularity"])
    assert t.loc[(1, "fine"), ["n_batches", "mean", "min", "max"]].tolist() == pytest.approx(
        [3, 4.0, 1.0, 8.0])  # mean of the 3 batch means, not of the 130 images (40/13)
    assert t.loc[(1, "coarse"), ["mean", "min", "max"]].tolist() == pytest.approx(
        [(0.35 + 0.25 + 0.25) / 3, 0.25, 0.35])
    assert t.loc[(2, "fine"), ["min", "max"]].tolist() == [0.5, 0.5]
    assert (t["batch_size"] == 64).all()
    assert E.batch_entropies(a, batch_size=65).loc[0, "n_batches"] == 2  # 65 + 65
    s = E.entropy_summary(a)  # default: the paper's statistic
    assert s["statistic"].iloc[0] == "paper's statistic: batch-of-64 means (min–max)"
    assert s["fine_median"].tolist() == [3.0, 0.5] and (s["n_units"] == 3).all()
    # exit 2: fine means all 0.5 > coarse 0.25 -> no overlap of batch means; per image there is
    assert s["ranges_overlap"].tolist() == [False, False]
    # per image they overlap: one coarse image at 6.65 at exit 1, fine 0 and 1 at exit 2
    assert E.entropy_summary(a, per="image")["ranges_overlap"].tolist() == [True, True]
    v = E.entropy_verdicts(a).set_index("statistic")
    assert v.loc["paper's statistic: batch-of-64 means (min–max)"].tolist() == [True, False, False]
    # per image the fine median falls 1.0 -> 0.5 too; coarse 0.25 -> 0.25 does not fall
    assert v.loc["ours: per image"].tolist() == [True, False, True]
    assert E.entropy_falls_with_depth(a)["statistic"].startswith("paper's statistic")


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


# --- regions without the entropy scale ----------------------------------------------------------

def test_tau_at_half_by_hand():
    def half(tau, spec):
        return A.tau_at_half(pd.DataFrame({"tau": tau, "specificity": spec}))
    assert half(TAU6, [0, 0, 0.25, 0.75, 1, 1]) == pytest.approx(0.45)  # between 0.44 and 0.46
    assert half(TAU6, [0, 0, 0.1, 0.5, 1, 1]) == pytest.approx(0.46)  # exactly 0.5 at a grid point
    assert half(TAU6[::-1], [1, 1, 0.8, 0.2, 0, 0]) == pytest.approx(0.44 + 0.02 * 0.3 / 0.6)
    assert np.isnan(half(TAU6, [0, 0, 0, 0.1, 0.2, 0.4]))  # never reaches 0.5
    assert np.isnan(half(TAU6, [0.6, 1, 1, 1, 1, 1.0]))  # already above it at the first τ


def test_scale_free_region_of_the_authors_fig3():
    from hbn.study import AUTHORS_FIG3
    got = {b: A.scale_free_region(g) for b, g in AUTHORS_FIG3.groupby("branch")}
    # δ = 0.5 at 0.50 (branch 1); 0.25 at 0.56, 0.75 at 0.58 (branch 2); 0.25 at 0.46, 0.55 at 0.48
    assert [got[b]["tau_half"] for b in (1, 2, 3)] == pytest.approx([0.50, 0.57, 0.46 + 0.02 * 0.25 / 0.3])
    assert got[1]["size_scaled"] == pytest.approx(0.08 / 0.5)
    assert got[1]["size_low_scaled"] == pytest.approx((0.08 - 2 * 0.02) / 0.5)  # two steps less
    assert (got[1]["start_scaled"], got[1]["end_scaled"]) == pytest.approx((0.92, 1.08))
    r = A.scale_free_region(AUTHORS_FIG3[AUTHORS_FIG3.branch == 2], scale=0.1)
    assert r["size_scaled"] == pytest.approx(1.2) and r["step_scaled"] == pytest.approx(0.2)
    assert np.isnan(A.scale_free_region(AUTHORS_FIG3[AUTHORS_FIG3.branch == 2], scale=0.0)["size_scaled"])


def test_median_entropy_gap_by_hand():
    a = make([[0, 0], [1, -1], [2, 2]], [[0, 0]] * 3, [0, 1, 2],
             ef=[[0.5, 0.1], [0.2, np.nan], [1.0, 0.3]], ec=[[0.1, 0.0], [0.6, 0.0], [0.9, 0.0]])
    gap = A.median_entropy_gap(a)
    assert gap[0] == pytest.approx(0.4)  # |0.4|, |-0.4|, |0.1|: median 0.4
    assert np.isnan(gap[1])  # one image lacks the fine head there


def test_scale_free_regions_do_not_depend_on_the_entropy_scale():
    a = random_a(600)
    big = dict(a, fine_entropy=5 * a["fine_entropy"], coarse_entropy=5 * a["coarse_entropy"])
    r, r5 = (A.scale_free_regions(x, A.wide_tau_grid(x), "batch", 32) for x in (a, big))
    assert r5["size"].to_numpy() == pytest.approx(5 * r["size"].to_numpy())  # τ scales with entropy
    for col in ("size_per_gap", "size_per_half", "start_per_gap", "end_per_half", "step_per_half"):
        assert r5[col].to_numpy() == pytest.approx(r[col].to_numpy()), col
    assert (r.start_per_half < 1).all() and (r.end_per_half > 1).all()
    # Table II's definition underneath, unchanged
    plain = A.operating_regions(a, A.wide_tau_grid(a), modes=("batch",), batch_sizes=(32,))
    assert r[["start", "end", "size"]].to_numpy() == pytest.approx(plain[["start", "end", "size"]].to_numpy())
