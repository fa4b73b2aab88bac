"""Granularity selectors, one-pass curves and the accuracy guarantee (hbn.selection)."""
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from hbn import analysis as A, records, routing as R, selection as S, targets as T

F2C = np.array([0, 0, 1, 1, 2, 2])  # 6 fine classes in 3 superclasses


def random_a(n=400, b=3, seed=0):
    """Records arrays with both heads on every exit, many tied entropies and a semantic exit."""
    rng = np.random.default_rng(seed)
    ft = rng.integers(0, 6, n)
    fp = np.where(rng.random((n, b)) < 0.6, ft[:, None], rng.integers(0, 6, (n, b)))
    cp = np.where(rng.random((n, b)) < 0.8, F2C[ft][:, None], rng.integers(0, 3, (n, b)))
    ef = rng.gamma(2.0, 0.5, (n, b)).round(2)  # rounded: ties, and τ values that hit d exactly
    ec = rng.gamma(2.0, 0.3, (n, b)).round(2)
    return dict(exits=np.arange(1, b + 1), fine_true=ft, coarse_true=F2C[ft], fine_pred=fp,
                coarse_pred=cp, fine_pred_coarse=F2C[fp], fine_entropy=ef, coarse_entropy=ec,
                fine_maxprob=np.exp(-ef) * rng.uniform(0.9, 1, (n, b)),
                coarse_maxprob=np.exp(-ec) * rng.uniform(0.9, 1, (n, b)),
                sem_prob_fine=rng.random(n).round(2))


# --- selectors and sweeps --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_entropy_gap_score_gives_exactly_tau_sweep(seed):
    a = random_a(seed=seed)
    d = a["fine_entropy"] - a["coarse_entropy"]
    taus = np.concatenate([[-np.inf, np.inf], np.unique(d)[::7], np.linspace(-3, 3, 41)])
    for b in range(3):
        ref = A.tau_sweep(a, taus, branch=b, mode="sample")
        ours = S.at_cuts(S.entropy_gap(a, b), *S.outcomes(a, b), cuts=-taus)
        for col in ("accuracy", "specificity", "hierarchical_accuracy"):
            assert ours[col].tolist() == ref[col].tolist()  # exact, not approximate
        table = T.score_table(S.entropy_gap(a, b), *S.outcomes(a, b), cuts=-taus)
        by_tau = T.tau_table(a, branch=b, taus=np.sort(taus))
        assert table.sort_values("tau")["correct"].tolist() == by_tau["correct"].tolist()


def test_curve_endpoints_and_points_are_threshold_outcomes():
    a = random_a()
    f, c, h = S.outcomes(a, 1)
    cur = S.curve(S.maxprob_gap(a, 1), f, c, h)
    assert cur["specificity"].iloc[0] == 0 and cur["specificity"].iloc[-1] == 1
    assert cur["accuracy"].iloc[0] == c.mean() and cur["accuracy"].iloc[-1] == f.mean()
    assert cur["specificity"].is_monotonic_increasing
    # every point is reached by "fine iff score > cut" for a cut between distinct scores
    s = np.sort(np.unique(S.maxprob_gap(a, 1)))[::-1]
    at = S.at_cuts(S.maxprob_gap(a, 1), f, c, h, np.concatenate([s, [-np.inf]]))
    assert at["accuracy"].tolist() == cur["accuracy"].tolist()
    assert S.auc(pd.DataFrame({"specificity": [0, 1], "accuracy": [0.8, 0.6]})) == pytest.approx(0.7)


def test_oracle_bounds_every_selector_at_every_specificity():
    rng = np.random.default_rng(3)
    for seed in range(3):
        a = random_a(seed=seed)
        for b in range(3):
            f, c, h = S.outcomes(a, b)
            orc = S.curve(S.oracle(a, b), f, c, h)
            scores = [S.entropy_gap(a, b), S.maxprob_gap(a, b), S.semantic(a),
                      S.fit_learned(a, b)(a, b)] + [rng.random(len(f)) for _ in range(5)]
            for s in scores:
                cur = S.curve(s, f, c, h)
                # the oracle's gain is constant inside each of its tie groups: interpolation is exact
                bound = np.interp(cur["specificity"], orc["specificity"], orc["accuracy"])
                assert (cur["accuracy"].to_numpy() <= bound + 1e-12).all()
                assert S.auc(cur) <= S.auc(orc) + 1e-12
                assert S.specificity_kept(cur) <= S.specificity_kept(orc)
            # at the oracle's own specificity it is analysis.oracle's point
            row = A.oracle(a).iloc[b]
            hit = orc[np.isclose(orc["specificity"], row.oracle_specificity)]
            assert hit["accuracy"].max() == pytest.approx(row.oracle_accuracy)


def test_specificity_kept_by_hand():
    cur = pd.DataFrame({"specificity": [0, 0.2, 0.4, 0.6, 1.0],
                        "accuracy": [0.900, 0.899, 0.8955, 0.894, 0.7]})
    assert S.specificity_kept(cur, drop=0.005) == 0.4  # 0.8955 >= 0.895 > 0.894
    assert S.specificity_kept(cur, drop=0.0) == 0.0


def test_learned_selector_fits_a_planted_signal():
    a = random_a(n=2000, seed=4)
    # plant: the fine answer at exit 2 is right exactly where its fine entropy is small
    small = a["fine_entropy"][:, 1] < np.median(a["fine_entropy"][:, 1])
    a["fine_pred"][:, 1] = np.where(small, a["fine_true"], (a["fine_true"] + 1) % 6)
    a["fine_pred_coarse"] = F2C[a["fine_pred"]]
    model = S.fit_learned(a, 1, l2=1e-4)
    p = model(a)
    assert p.shape == (2000,) and ((p >= 0) & (p <= 1)).all()
    # logistic regression with an unpenalised bias: mean prediction = base rate at the optimum
    assert p.mean() == pytest.approx(small.mean(), abs=1e-6)
    f, c, h = S.outcomes(a, 1)
    assert S.auc(S.curve(p, f, c, h)) > S.auc(S.curve(np.random.default_rng(0).random(2000), f, c, h)) + 0.05
    assert S.features(a, 1).shape == (2000, 2 * len(S.FEATURES))  # exits 1 and 2
    with pytest.raises(ValueError, match="fitted for exit column 1"):
        model(a, 2)


def test_semantic_needs_an_ag_hbn_record():
    a = random_a()
    a["sem_prob_fine"] = np.full(len(a["fine_true"]), np.nan)
    with pytest.raises(ValueError, match="semantic exit"):
        S.semantic(a)


# --- Clopper–Pearson -------------------------------------------------------------------------------

def _exact_sf(k, n, p):
    p = Fraction(p)
    return float(sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1)))


def test_binomial_tail_against_exact_fractions():
    for k, n, p in [(3, 10, 0.2), (90, 100, 0.85), (0, 5, 0.3), (5, 5, 0.5), (480, 500, 0.97)]:
        assert T.binom_sf(k, n, p) == pytest.approx(_exact_sf(k, n, p), rel=1e-10)


def test_clopper_pearson_known_values():
    for n in (1, 10, 360, 5000):
        assert T.clopper_pearson_lower(n, n, 0.95) == pytest.approx(0.05 ** (1 / n), abs=1e-12)
    assert T.clopper_pearson_lower(0, 50, 0.95) == 0.0
    # textbook two-sided 95% intervals use the one-sided 97.5% bound on each side
    assert T.clopper_pearson_lower(90, 100, 0.975) == pytest.approx(0.8238, abs=1e-4)
    assert T.clopper_pearson_lower(5, 10, 0.975) == pytest.approx(0.1871, abs=1e-4)
    lo = T.clopper_pearson_lower(42, 60, 0.9)  # defining property, checked with exact arithmetic
    assert _exact_sf(42, 60, lo) == pytest.approx(0.1, abs=1e-9)


@pytest.mark.parametrize("n,target,alpha", [(360, 0.9, 0.05), (5000, 0.93, 0.003), (50, 0.99, 0.1)])
def test_min_correct_is_where_the_bound_crosses_the_target(n, target, alpha):
    k = T.min_correct(n, target, alpha)
    if k <= n:
        assert T.clopper_pearson_lower(k, n, 1 - alpha) >= target - 1e-12
    if 0 < k:
        assert T.clopper_pearson_lower(min(k - 1, n), n, 1 - alpha) < target


def test_learned_targets_by_hand():
    a = random_a(n=8)
    a["fine_pred"][:, 0] = a["fine_true"]
    a["fine_pred"][:4, 0] = (a["fine_true"][:4] + 2) % 6  # wrong, in another superclass
    a["fine_pred_coarse"] = F2C[a["fine_pred"]]
    a["coarse_pred"][:, 0] = np.where(np.arange(8) % 2 == 0, a["coarse_true"], (a["coarse_true"] + 1) % 3)
    np.testing.assert_array_equal(S.learned_target(a, 0, "fine right"), np.arange(8) >= 4)
    # only "fine wrong, coarse right" (images 0 and 2) costs accuracy when answering fine
    np.testing.assert_array_equal(S.learned_target(a, 0, "no loss"), ~np.isin(np.arange(8), [0, 2]))
    with pytest.raises(ValueError, match="unknown learned-selector target 'other'"):
        S.learned_target(a, 0, "other")


def test_no_loss_selector_answers_fine_wherever_it_costs_nothing():
    n = 3000
    a = random_a(n=n, seed=7)
    rng = np.random.default_rng(1)
    group = np.arange(n) % 3  # 0: fine wrong, coarse right (costly); 1: both wrong; 2: both right
    a["fine_entropy"][:, 1] = np.where(group == 0, 3.0, 0.3) + rng.normal(0, 0.05, n)
    a["coarse_entropy"][:, 1] = np.where(group == 1, 3.0, 0.3) + rng.normal(0, 0.05, n)
    a["fine_pred"][:, 1] = np.where(group == 2, a["fine_true"], (a["fine_true"] + 2) % 6)
    a["fine_pred_coarse"] = F2C[a["fine_pred"]]
    a["coarse_pred"][:, 1] = np.where(group == 1, (a["coarse_true"] + 1) % 3, a["coarse_true"])
    f, c, h = S.outcomes(a, 1)
    no_loss, fine_right = S.fit_learned(a, 1, target="no loss"), S.fit_learned(a, 1, target="fine right")
    assert no_loss.label == S.LEARNED["no loss"]
    # "no loss" answers fine for the both-wrong third too, free of cost; "fine right" cannot tell
    # those from the costly third (neither has a right fine answer)
    kept = {m.target: S.specificity_kept(S.curve(m(a), f, c, h), drop=0.0) for m in (no_loss, fine_right)}
    assert kept["no loss"] >= 2 / 3 - 0.01 and kept["fine right"] < 0.55
    both = S.selector_curves(a, 1, [fine_right, no_loss])
    assert set(S.LEARNED.values()) <= set(both.selector)

# --- the guarantee, on synthetic records whose truth is known --------------------------------------

def _population_accuracy(cut):
    # u ~ U(0, 1); coarse right w.p. 0.9; fine right w.p. 0.3 + 0.65 u; fine iff u > cut
    cut = np.clip(cut, 0, 1)
    return 0.9 * cut + 0.3 * (1 - cut) + 0.325 * (1 - cut ** 2)


def _draw(rng, n):
    u = rng.random(n)
    f, c = rng.random(n) < 0.3 + 0.65 * u, rng.random(n) < 0.9
    return u, f, c


def test_target_holds_at_the_stated_confidence():
    rng = np.random.default_rng(2024)
    target, confidence, reps, cuts = 0.85, 0.9, 400, np.linspace(0, 1, 201)
    true_max_delta = 1 - (0.6 - math.sqrt(0.36 - 4 * 0.325 * 0.225)) / 0.65  # acc = target
    fails = naive_fails = test_fails = 0
    deltas = []
    for _ in range(reps):
        u, f, c = _draw(rng, 1000)
        table = T.score_table(u, f, c, c, cuts)
        choice = T.choose_for_target(table, target, confidence)
        assert choice["certified"] and choice["lower_bound"] >= target
        cut = -choice["tau"]
        fails += _population_accuracy(cut) < target
        deltas.append(1 - cut)
        ok = table[table["accuracy"] >= target]  # naive: the most fine answers whose accuracy looks fine
        naive_fails += _population_accuracy(-ok.sort_values("specificity")["tau"].iloc[-1]) < target
        ut, ft, ct = _draw(rng, 20000)  # a large test set
        test_fails += np.where(ut > cut, ft, ct).mean() < target
    slack = 3 * math.sqrt((1 - confidence) * confidence / reps)
    assert fails / reps <= 1 - confidence + slack
    assert test_fails / reps <= 1 - confidence + slack
    assert naive_fails / reps > 0.3  # the scenario is tight: without the bound the target fails
    assert 0.5 * true_max_delta < np.mean(deltas) < true_max_delta  # and the guarantee is not vacuous


def test_unreachable_target_is_not_certified():
    u, f, c = _draw(np.random.default_rng(0), 500)
    choice = T.choose_for_target(T.score_table(u, f, c, c, np.linspace(0, 1, 11)), 0.97)
    assert not choice["certified"] and np.isnan(choice["tau"])
    assert np.isnan(T.on_records(random_a(), choice, branch=0)["accuracy"])


def test_dynamic_choice_on_records_matches_routing():
    val, test = random_a(n=1500, seed=5), random_a(n=800, seed=6)
    flops = [10.0, 20.0, 30.0]
    table = T.tau_table(val, flops=flops, taus=np.concatenate([[-np.inf], np.linspace(-3, 3, 61)]))
    assert table["Th"].nunique() == len(T.THRESHOLDS)
    for objective in ("specificity", "flops"):
        choice = T.choose_for_target(table, 0.7, 0.95, objective)
        assert choice["certified"] and choice["lower_bound"] >= 0.7
        chain = table[table["Th"] == choice["Th"]].sort_values("step")
        upto = chain[chain["tau"] <= choice["tau"]]
        assert (upto["correct"] >= choice["min_correct"]).all()  # every earlier step passed
        got = T.on_records(test, choice, flops=flops)
        e, fine = R.gran_hbn(test["fine_entropy"], test["coarse_entropy"], choice["Th"], choice["tau"])
        ref = A.score(test, e, fine, flops=flops)
        assert got["accuracy"] == pytest.approx(ref["accuracy"])
        assert got["specificity"] == pytest.approx(ref["specificity"])
        assert got["mean_flops"] == pytest.approx(ref["mean_flops"])
    fewest = T.choose_for_target(table, 0.7, 0.95, "flops")
    most = T.choose_for_target(table, 0.7, 0.95, "specificity")
    assert fewest["cal_mean_flops"] <= most["cal_mean_flops"]
    assert most["cal_specificity"] >= fewest["cal_specificity"]
    budget = T.choose_for_budget(table, 15.0)
    assert budget["feasible"] and budget["cal_mean_flops"] <= 15.0
    assert budget["cal_accuracy"] == table[table["mean_flops"] <= 15.0]["accuracy"].max()
    assert not T.choose_for_budget(table, 5.0)["feasible"]


def test_split_cuts_every_array_alike_and_covers_the_records():
    a = random_a(n=101, seed=8)
    a["image"] = np.arange(101)
    cal, held = T.split(a, 0.5, seed=3)
    assert len(cal["image"]) == 50 and len(held["image"]) == 51
    assert sorted(np.concatenate([cal["image"], held["image"]])) == list(range(101))
    for part in (cal, held):
        np.testing.assert_array_equal(part["fine_true"], a["fine_true"][part["image"]])
        np.testing.assert_array_equal(part["fine_entropy"], a["fine_entropy"][part["image"]])
        np.testing.assert_array_equal(part["exits"], a["exits"])
    again, _ = T.split(a, 0.5, seed=3)
    np.testing.assert_array_equal(again["image"], cal["image"])
    assert not np.array_equal(T.split(a, 0.5, seed=4)[0]["image"], cal["image"])
    with pytest.raises(ValueError, match="share must leave images on both sides"):
        T.split(a, 1.0)
    with pytest.raises(ValueError, match="these do not: stray"):
        T.split({**a, "stray": np.zeros(5)}, 0.5)


def test_target_chosen_on_a_random_half_holds_at_the_stated_confidence():
    rng = np.random.default_rng(11)
    target, confidence, reps, cuts = 0.85, 0.9, 200, np.linspace(0, 1, 101)
    fails = 0
    for r in range(reps):
        u, f, c = _draw(rng, 2000)
        arrays = dict(exits=np.array([1]), u=u, f=f, c=c, fine_true=u)
        cal, _ = T.split(arrays, 0.5, seed=r)
        choice = T.choose_for_target(T.score_table(cal["u"], cal["f"], cal["c"], cal["c"], cuts),
                                     target, confidence)
        fails += choice["certified"] and _population_accuracy(-choice["tau"]) < target
    assert fails / reps <= 1 - confidence + 3 * math.sqrt(0.09 / reps)


# --- validation records ----------------------------------------------------------------------------

def test_evaluate_writes_validation_records(tmp_path, synthetic):
    from hbn.config import make_config
    from hbn.evaluate import evaluate
    from hbn.train import train
    run = train(make_config("smoke", model="gran-hbn", epochs=1, out_dir=str(tmp_path)), synthetic,
                progress=False, log=lambda *_: None)
    with pytest.raises(FileNotFoundError, match="python -m hbn evaluate"):
        records.load_records(run, split="val")
    test = evaluate(run, synthetic)
    val = records.load_records(run, split="val")
    assert list(val.columns) == list(records.COLUMNS)
    assert len(val) == 3 * len(synthetic.val) and len(test) == 3 * len(synthetic.test)
    assert (val.groupby("image").fine_true.first().to_numpy() == synthetic.val.fine.numpy()).all()
    ints = ["image", "exit", "fine_true", "fine_pred", "coarse_pred"]
    assert records.load_records(run)[ints].equals(test[ints])  # the default split is unchanged


def test_calibrations_pair_each_source_with_the_same_held_out_half_and_reject_unknown_sources():
    from hbn.study import Run, Study
    from hbn.config import make_config
    a = random_a(seed=5)
    st = Study("synthetic", "smoke", {("gran-hbn", 0): Run(make_config("smoke", model="gran-hbn"), None, None, a)})
    val = {0: {k: (v[:100] if k != "exits" else v) for k, v in a.items()}}
    cals = T.calibrations(st, [0], val)
    assert set(cals) == {(0, "validation"), (0, "test half")}
    assert cals[(0, "validation")][1] is cals[(0, "test half")][1]  # one held-out half for both
    assert cals[(0, "validation")][0] is val[0] and set(T.calibrations(st, [0], {})) == {(0, "test half")}
    with pytest.raises(ValueError, match="calibrate_on"):
        T.calibrations(st, [0], val, ["train"])
    chosen = T.target_choices(cals, [0.5], 0.95, None)
    assert len(chosen) == 2 * (len(a["exits"]) + 1)  # per source: each branch forced, and dynamic
    counts = T.held_counts(chosen)
    assert list(counts.columns) == ["calibrated on", "target", "choices", "certified", "held",
                                    "worst margin (points)"]
