"""Exit rules: Algorithm 1 (Gran-HBN), eq. (3) (BranchyNet), eq. (12) (AG-HBN), hand-built."""
import numpy as np
import pytest
import torch

from hbn import batching, data, models, records, routing as R

INF = float("inf")


def col(*rows):
    return np.array(rows, dtype=np.float64)


# --- Gran-HBN, Algorithm 1 -----------------------------------------------------------------------

def test_gran_hbn_hand_cases():
    # 3 exits; Th = 1.0 everywhere, tau = 0.5. Columns = exits.
    ef = col([0.2, 0.1, 0.1],   # e_f < Th and d = -0.3 < tau -> fine at exit 0
             [0.9, 0.1, 0.1],   # d = 0.6 > tau; e_c = 0.3 < Th -> coarse at exit 0
             [2.0, 0.4, 0.1],   # nothing confident at 0; fine at 1
             [2.0, 2.0, 0.8],   # last: d = 0.8 - 0.2 = 0.6 >= tau -> coarse at 2
             [2.0, 2.0, 0.6])   # last: d = 0.6 - 0.2 = 0.4 < tau -> fine at 2
    ec = col([0.5, 0.5, 0.5],
             [0.3, 0.5, 0.5],
             [1.5, 0.5, 0.5],
             [1.5, 1.5, 0.2],
             [1.5, 1.5, 0.2])
    e, f = R.gran_hbn(ef, ec, threshold=1.0, tau=0.5)
    assert e.tolist() == [0, 0, 1, 2, 2]
    assert f.tolist() == [True, False, True, False, True]
    assert e.dtype == np.int64 and f.dtype == bool


def test_gran_hbn_last_branch_always_exits_even_above_threshold():
    ef, ec = col([5.0, 5.0]), col([5.0, 6.0])
    e, f = R.gran_hbn(ef, ec, threshold=0.1, tau=0.0)
    assert e.tolist() == [1] and f.tolist() == [True]  # 5 - 0 < 6


@pytest.mark.parametrize("mode", ["sample", "batch"])
def test_tau_limits(mode):
    rng = np.random.default_rng(1)
    ef, ec = rng.uniform(0, 3, (50, 3)), rng.uniform(0, 1, (50, 3))
    _, f = R.gran_hbn(ef, ec, 0.5, -INF, mode=mode, batch_size=8)
    assert not f.any()
    _, f = R.gran_hbn(ef, ec, 10.0, INF, mode=mode, batch_size=8)
    assert f.all()
    # With a real threshold, τ = +inf still answers coarse where only the coarse head is
    # confident (Algorithm 1, line 8) -- but never where the fine head is.
    e, f = R.gran_hbn(ef, ec, 0.5, INF, mode=mode, batch_size=8)
    starts = R.decision_units(50, mode, 8)
    ef_at = R.to_images(R.unit_means(ef, starts), starts, 50)[np.arange(50), e]
    assert (~f).any() and (ef_at[~f] >= 0.5).all() and (e[~f] < 2).all()
    assert not R.gran_hbn_forced(ef[:, 0], ec[:, 0], -INF, mode, 8).any()
    assert R.gran_hbn_forced(ef[:, 0], ec[:, 0], INF, mode, 8).all()


def test_larger_tau_means_more_fine():
    rng = np.random.default_rng(2)
    ef, ec = rng.uniform(0, 3, (200, 3)), rng.uniform(0, 2, (200, 3))
    for th in (1.0, 10.0):
        shares = [R.gran_hbn(ef, ec, th, t)[1].mean() for t in np.linspace(-3, 3, 13)]
        assert np.all(np.diff(shares) >= 0) and shares[0] == 0
    assert shares[-1] == 1  # Th above every entropy: the τ comparison alone decides


def test_strict_inequality_at_equality_is_coarse():
    # e_f - tau == e_c exactly (binary fractions) -> coarse; a hair more tau -> fine.
    ef, ec = col([0.75, 0.75]), col([0.5, 0.5])
    assert R.gran_hbn(ef, ec, 10.0, 0.25)[1].tolist() == [False]
    assert R.gran_hbn(ef, ec, 10.0, np.nextafter(0.25, 1))[1].tolist() == [True]
    assert R.gran_hbn_forced(ef[:, 0], ec[:, 0], 0.25).tolist() == [False]


def test_threshold_is_strict_for_gran_hbn():
    ef, ec = col([0.5, 0.1]), col([2.0, 0.1])
    assert R.gran_hbn(ef, ec, 0.5, INF)[0].tolist() == [1]  # e_f == Th: not confident
    assert R.gran_hbn(ef, ec, np.nextafter(0.5, 1), INF)[0].tolist() == [0]
    ef, ec = col([2.0, 0.1]), col([0.5, 0.1])
    assert R.gran_hbn(ef, ec, 0.5, -INF)[0].tolist() == [1]  # e_c == Th: not confident
    assert R.gran_hbn(ef, ec, 0.6, -INF)[0].tolist() == [0]


def test_threshold_is_inclusive_for_branchynet():
    e = col([0.5, 0.1, 0.1], [0.6, 0.6, 0.9], [0.7, 0.4, 0.9])
    assert R.branchynet(e, 0.5).tolist() == [0, 2, 1]
    assert R.branchynet(e, [0.4, 0.6, 0.0]).tolist() == [1, 1, 1]


def test_per_branch_thresholds():
    ef = col([0.3, 0.3, 0.3], [0.3, 0.3, 0.3])
    ec = col([0.9, 0.9, 0.9], [0.9, 0.9, 0.9])
    e, f = R.gran_hbn(ef, ec, [0.2, 0.4, 0.0], tau=INF)
    assert e.tolist() == [1, 1] and f.all()
    e, f = R.gran_hbn(ef, ec, [0.2, 0.2, 0.0], tau=-INF)  # coarse 0.9 never < 0.2
    assert e.tolist() == [2, 2] and not f.any()
    with pytest.raises(ValueError, match="one value per exit"):
        R.gran_hbn(ef, ec, [0.2, 0.4], tau=0.0)


def test_batch_mode_decides_on_chunk_means():
    # Image 0 alone: fine (d = -0.5 < 0). Image 1: coarse (d = 1). Chunk mean d = 0.25 -> coarse.
    ef, ec = col([0.5, 0.5], [1.5, 1.5]), col([1.0, 1.0], [0.5, 0.5])
    e, f = R.gran_hbn(ef, ec, threshold=0.0, tau=0.0)
    assert f.tolist() == [True, False]
    e, f = R.gran_hbn(ef, ec, threshold=0.0, tau=0.0, mode="batch", batch_size=2)
    assert f.tolist() == [False, False] and e.tolist() == [1, 1]


def test_batch_chunks_with_short_last_chunk():
    # 5 images, chunks {0,1}, {2,3}, {4}. Threshold 1.0 on chunk means of exit 0.
    ef = col([0.2, 0.0], [0.6, 0.0], [2.0, 0.0], [0.2, 0.0], [0.8, 0.0])
    ec = col([5.0, 0.0], [5.0, 0.0], [5.0, 0.0], [5.0, 0.0], [5.0, 0.0])
    e, f = R.gran_hbn(ef, ec, threshold=[1.0, 0.0], tau=INF, mode="batch", batch_size=2)
    # chunk means of e_f at exit 0: 0.4 (exit 0), 1.1 (continue to exit 1), 0.8 (exit 0)
    assert e.tolist() == [0, 0, 1, 1, 0] and f.all()
    assert R.decision_units(5, "batch", 2).tolist() == [0, 2, 4]
    assert R.branchynet(ef, [1.0, 0.0], "batch", 2).tolist() == [0, 0, 1, 1, 0]


def test_batch_size_one_equals_sample_mode():
    rng = np.random.default_rng(3)
    ef, ec = rng.uniform(0, 2, (40, 3)), rng.uniform(0, 1, (40, 3))
    for a, b in zip(R.gran_hbn(ef, ec, 0.6, 0.3), R.gran_hbn(ef, ec, 0.6, 0.3, "batch", 1)):
        np.testing.assert_array_equal(a, b)


def test_accepts_torch_tensors():
    ef, ec = torch.tensor([[0.2, 0.1]]), torch.tensor([[0.5, 0.5]])
    e, f = R.gran_hbn(ef, ec, torch.tensor(1.0), 0.5)
    assert e.tolist() == [0] and f.tolist() == [True]


# --- AG-HBN, eq. (12) ----------------------------------------------------------------------------

def test_ag_hbn_sample_mode():
    ef = col([0.2, 0.1], [0.2, 0.1], [2.0, 2.0], [2.0, 2.0])
    ec = col([0.3, 0.1], [0.3, 0.1], [2.0, 2.0], [2.0, 2.0])
    sem = np.array([0.51, 0.49, 0.9, 0.1])  # > 0.5 is fine
    e, f = R.ag_hbn(ef, ec, sem, threshold=1.0)
    assert e.tolist() == [0, 0, 1, 1] and f.tolist() == [True, False, True, False]


def test_ag_hbn_tie_rule_is_argmax():
    # Per image ŷ_sem = argmax over (coarse, fine): an exact tie P(fine) = 0.5 picks index 0.
    half, above = np.float32(0.5), np.nextafter(np.float32(0.5), np.float32(1))
    sem = np.array([half, above, np.nextafter(half, np.float32(0))], dtype=np.float32)
    assert R.ag_hbn_forced(sem).tolist() == [False, True, False]
    ef = ec = np.full((3, 2), 0.1)
    assert R.ag_hbn(ef, ec, sem, 1.0)[1].tolist() == [False, True, False]
    # Per unit eq. (12): fine iff the mean of ŷ_sem >= 0.5, so one fine of two is fine
    assert R.ag_hbn_forced([0.9, 0.1], "batch", 2).tolist() == [True, True]
    assert R.ag_hbn_forced([0.9, 0.5], "batch", 2).tolist() == [True, True]
    assert R.ag_hbn_forced([0.5, 0.5], "batch", 2).tolist() == [False, False]


def test_validate_records_and_routing_share_the_tie_rule(synthetic):
    from hbn.train import validate
    torch.manual_seed(0)
    model = models.create_model("ag-hbn", num_fine=synthetic.hierarchy.num_fine,
                                num_coarse=synthetic.hierarchy.num_coarse, in_channels=3,
                                width=0.25)
    split = synthetic.test.take(torch.arange(16))
    head = model.exits["0"].classifiers["semantic"]
    for bias, fine in ((0.0, False), (1e-3, True)):  # equal logits: a tie; else fine wins
        with torch.no_grad():
            head.weight.zero_()
            head.bias.copy_(torch.tensor([0.0, bias]))
        said = validate(model, split, synthetic, 8, sem_fine_weight=1.0)["sem_fine_share"]
        a = records.as_arrays(records.exit_records(model, split, synthetic))
        assert (a["sem_prob_fine"] == 0.5).all() == (not fine)
        assert said == float(fine) and (R.ag_hbn_forced(a["sem_prob_fine"]) == fine).all()


def test_ag_hbn_coarse_needs_confident_coarse_head():
    ef, ec = col([0.2, 0.1]), col([3.0, 0.1])
    e, f = R.ag_hbn(ef, ec, [0.1], threshold=1.0)  # wants coarse, e_c not < Th -> go on
    assert e.tolist() == [1] and f.tolist() == [False]


def test_ag_hbn_batch_mode_uses_majority_of_chunk():
    ef, ec = np.full((5, 2), 0.1), np.full((5, 2), 0.1)
    sem = [0.9, 0.2, 0.1, 0.2, 0.6]  # chunks {0,1}: 1/2 -> fine; {2,3}: 0 -> coarse; {4}: fine
    e, f = R.ag_hbn(ef, ec, sem, 1.0, mode="batch", batch_size=2)
    assert f.tolist() == [True, True, False, False, True] and (e == 0).all()
    assert R.ag_hbn_forced(sem, "batch", 2).tolist() == f.tolist()
    assert R.ag_hbn_forced(sem).tolist() == [True, False, False, False, True]


# --- forced exits -----------------------------------------------------------------------------

def test_forced_helpers():
    e, f = R.forced(4, 2, is_fine=True)
    assert e.tolist() == [2] * 4 and f.all()
    e, f = R.forced(3, 0, is_fine=[True, False, True])
    assert f.tolist() == [True, False, True]
    ef, ec = np.array([0.2, 1.4, 0.9]), np.array([0.5, 0.5, 0.5])
    assert R.gran_hbn_forced(ef, ec, 0.5).tolist() == [True, False, True]  # d = -.3, .9, .4
    assert R.gran_hbn_forced(ef, ec, 0.5, "batch", 3).tolist() == [True] * 3  # mean d = 1/3


# --- bad input ---------------------------------------------------------------------------------

def test_bad_inputs_raise():
    ef = ec = np.zeros((4, 3))
    with pytest.raises(ValueError, match="mode"):
        R.gran_hbn(ef, ec, 1.0, 0.0, mode="chunk")
    with pytest.raises(ValueError, match="batch_size"):
        R.gran_hbn(ef, ec, 1.0, 0.0, mode="batch", batch_size=0)
    with pytest.raises(ValueError, match="differ in shape"):
        R.gran_hbn(ef, np.zeros((4, 2)), 1.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        R.gran_hbn(np.zeros(4), np.zeros(4), 1.0, 0.0)
    with pytest.raises(ValueError, match="threshold"):
        R.branchynet(ef, [1.0, 1.0])
    with pytest.raises(ValueError, match="tau is NaN"):
        R.gran_hbn(ef, ec, 1.0, float("nan"))
    with pytest.raises(ValueError, match="lacks the head"):
        R.gran_hbn(np.where([True, False, False], np.nan, ef), ec, 1.0, 0.0)
    with pytest.raises(ValueError, match="sem_prob_fine"):
        R.ag_hbn(ef, ec, np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="semantic exit"):
        R.ag_hbn(ef, ec, np.full(4, np.nan), 1.0)
    with pytest.raises(ValueError, match="branch"):
        R.forced(3, -1)


# --- the early-exit fast path agrees with the vectorised rule -----------------------------------

def _gap_midpoint(values, lo, hi):
    """Midpoint of the widest gap between sorted values in the [lo, hi] quantile range, and
    the gap: a cut that no float32 jitter between batched and single forwards can cross."""
    v = np.unique(np.asarray(values, np.float64).ravel())
    i = np.arange(int(lo * (len(v) - 1)), int(hi * (len(v) - 1)))
    k = i[np.argmax(v[i + 1] - v[i])]
    return (v[k] + v[k + 1]) / 2, v[k + 1] - v[k]


@pytest.fixture
def one_thread():
    # Tiny batch-1 convs: a second thread only adds contention (seconds on a busy 2-core box).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_early_exit_matches_vectorised_rule(one_thread):
    ds = data.load_synthetic(n_train=8, n_val=8, n_test=40)
    torch.manual_seed(0)
    model = models.create_model("gran-hbn", num_fine=12, num_coarse=4, in_channels=3, width=0.25)
    with torch.no_grad():  # sharper random heads, so entropies spread over [0, log K]
        for ex in model.exits.values():
            for head in ex.classifiers.values():
                head.weight *= 40
    split = ds.test.take(torch.arange(20))
    a = records.as_arrays(records.exit_records(model, split, ds))
    ef, ec = a["fine_entropy"], a["coarse_entropy"]
    (t0, g0), (t1, g1) = (_gap_midpoint(np.r_[ef[:, k], ec[:, k]], *q)
                          for k, q in ((0, (0.0, 0.2)), (1, (0.2, 0.5))))
    tau, g2 = _gap_midpoint(ef - ec, 0.3, 0.7)
    assert min(g0, g1, g2) > 1e-4
    ran = []
    model.stages[2].register_forward_hook(lambda *_: ran.append(1))
    x = batching.normalise(split.images, ds.mean, ds.std)
    seen = set()
    model.train()  # records left it in eval mode; the fast path must restore whatever it finds
    for th, t in (([t0, t1, 0.0], tau), ([t0, t1, 0.0], INF), ([t0, 9.0, 0.0], -INF)):
        e, f = R.gran_hbn(ef, ec, th, t, mode="sample")
        for i in range(len(x)):
            ran.clear()
            k, fine, pred = R.early_exit_gran_hbn(model, x[i:i + 1], th, t)
            assert (k, fine) == (e[i], f[i])
            assert pred == a["fine_pred" if fine else "coarse_pred"][i, k]
            assert bool(ran) == (k == 2)  # the last stage runs only for the last exit
            seen.add((k, fine))
    assert {k for k, _ in seen} == {0, 1, 2} and {f for _, f in seen} == {True, False}
    assert model.training
    with pytest.raises(ValueError, match="1, C, H, W"):
        R.early_exit_gran_hbn(model, x[:2], [t0, t1, 0.0], tau)
