"""Conclusions whose verdicts follow the data (hbn.findings), and tables as the book shows
them (hbn.tables)."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbn import findings as F, selection as S
from hbn.config import make_config
from hbn.study import Run, Study
from hbn.tables import NA, cell, table

F2C = np.array([0, 0, 1, 1, 2, 2])  # 6 fine classes in 3 superclasses


def arrays(n=400, seed=0, fine_right=0.6, coarse_right=0.9, ef_scale=(1.0, 0.8, 0.6), sem=None):
    rng = np.random.default_rng(seed)
    ft = rng.integers(0, 6, n)
    fp = np.where(rng.random((n, 3)) < fine_right, ft[:, None], (ft[:, None] + 1) % 6)
    cp = np.where(rng.random((n, 3)) < coarse_right, F2C[ft][:, None], (F2C[ft][:, None] + 1) % 3)
    ef = rng.gamma(2.0, 0.4, (n, 3)) * np.asarray(ef_scale)
    ec = rng.gamma(2.0, 0.3, (n, 3)) * np.asarray(ef_scale)
    return dict(exits=np.array([1, 2, 3]), fine_true=ft, coarse_true=F2C[ft], fine_pred=fp,
                coarse_pred=cp, fine_pred_coarse=F2C[fp], fine_entropy=ef, coarse_entropy=ec,
                sem_prob_fine=np.full(n, np.nan) if sem is None else np.asarray(sem, float))


def study(gran=None, sem=None, post=None):
    runs = {("gran-hbn", 0): Run(make_config("smoke", model="gran-hbn"), Path("g"), None,
                                 gran or arrays())}
    if sem is not None:
        runs[("ag-hbn", 0)] = Run(make_config("smoke", model="ag-hbn"), Path("a"), None,
                                  arrays(sem=sem), metrics=post or [])
    return Study("synthetic", "smoke", runs)


def test_semantic_exit_collapse_and_ranking():
    n = 400
    f = F.semantic_exit(study(sem=np.full(n, 0.9)))
    assert f.verdict == F.UNLIKE_PAPER and "δ = 100.0 %" in f.text and "answers fine for every image" in f.text
    assert "ROC AUC 0.500" in f.text and "no better than chance" in f.text
    # every image still answers fine at 0.5, but P(fine) is higher exactly where eq. (8) says fine
    target = S.semantic_target(arrays(), make_config("smoke", model="ag-hbn").sem_fine_weight)
    assert 0 < target.mean() < 1
    f = F.semantic_exit(study(sem=np.where(target, 0.95, 0.6)))
    assert "ROC AUC 1.000" in f.text and "better than chance" in f.text
    assert "which eq. (12)'s cut at 0.5 does not use" in f.text
    assert f"says fine for {100 * target.mean():.1f} %" in f.text
    f = F.semantic_exit(study(sem=np.where(target, 0.6, 0.95)))  # ranks the wrong way round
    assert "ROC AUC 0.000" in f.text and "worse than chance" in f.text
    one_coarse = np.where(np.arange(n) == 0, 0.2, 0.9)
    assert "answers coarse for only 0.2% of them" in F.semantic_exit(study(sem=one_coarse)).text
    mixed = np.where(np.arange(n) < 300, 0.8, 0.2)  # 3 in 4 answer fine: the authors' point
    f = F.semantic_exit(study(sem=mixed))
    assert f.verdict == F.AS_PAPER and "δ = 75.0 %" in f.text and "mixes" in f.text


def seeds_study(per_seed):
    """A study whose Gran-HBN seeds 0, 1, ... have the given arrays."""
    cfg = make_config("smoke", model="gran-hbn")
    return Study("synthetic", "smoke", {("gran-hbn", s): Run(cfg, Path(f"g{s}"), None, a)
                                        for s, a in enumerate(per_seed)})


def test_entropy_depth_verdict_follows_the_medians():
    assert F.entropy_depth(study(arrays(ef_scale=(1.0, 0.8, 0.6)))).verdict == F.AS_PAPER
    f = F.entropy_depth(study(arrays(ef_scale=(1.0, 0.6, 0.8))))
    assert f.verdict == F.UNLIKE_PAPER and "do not fall at every step" in f.text
    assert "n = 1 Gran-HBN seed (0)" in f.text and "(one seed)" in f.text


def test_entropy_depth_states_n_intervals_and_a_statistic_dependent_step():
    s = seeds_study([arrays(seed=k, ef_scale=(1.0, 0.8, 0.6)) for k in range(4)])
    f = F.entropy_depth(s)
    assert f.verdict == F.AS_PAPER and "n = 4 Gran-HBN seeds (0, 1, 2, 3), each 400 test images" in f.text
    assert "95 % interval" in f.text and "depends on the statistic" not in f.text
    # a heavy tail at branch 2 only: batch means fall at branch 3, the per-image median rises
    runs = []
    for k in range(4):
        a = arrays(seed=k)
        rng = np.random.default_rng(k)
        base = rng.uniform(0.1, 0.2, 400)
        ef = np.stack([base + 0.6, base + 0.1, base + 0.12], 1)
        ef[rng.permutation(400)[:50], 1] += 2.0
        runs.append(dict(a, fine_entropy=ef, coarse_entropy=ef / 2))
    f = F.entropy_depth(seeds_study(runs))
    assert f.verdict == F.AS_PAPER  # the paper's statistic falls at every step...
    assert "from branch 2 to 3: in batch means fine falls" in f.text and "per image fine rises" in f.text
    assert "at this step the trend depends on the statistic" in f.text  # ... and the page says so


def region_arrays(spread, n=400, batch=20, scale=1.0):
    """Every image of batch k has e_f - e_c = 1 + spread_b (k / (K - 1) - 1/2), so the batch-mode
    region at branch b is `spread_b` wide around τ = 1 (times `scale`)."""
    a = arrays(n)
    k = np.arange(n) // batch
    gap = 1 + np.asarray(spread)[None, :] * (k[:, None] / k.max() - 0.5)
    ec = np.full((n, 3), 0.5)
    return dict(a, fine_entropy=scale * (ec + gap), coarse_entropy=scale * ec)


def test_region_verdict_is_scale_free():
    grid = np.round(np.arange(0, 1.0001, 0.02), 2)
    like = region_arrays([0.12, 0.17, 0.21])  # inside the authors' 0.08–0.16, 0.14–0.21, 0.17–0.25
    f = F.operating_regions(seeds_study([like]), grid, 20)
    assert f.verdict == F.AS_PAPER and "within the authors' range at every branch" in f.text
    assert "0.12 (one seed) at branch 1" in f.text
    wide = region_arrays([0.4, 0.4, 0.4])
    f = F.operating_regions(seeds_study([wide]), grid, 20)
    assert f.verdict == F.UNLIKE_PAPER and "wider than the authors' at 3 of 3 branches" in f.text
    # the same shape on a 5 times larger entropy scale: the same verdict and widths
    small = region_arrays([0.12, 0.17, 0.21], scale=0.2)
    g = F.operating_regions(seeds_study([small]), grid, 20)
    assert g.verdict == F.AS_PAPER and "0.12 (one seed) at branch 1" in g.text
    # one decision for all images: δ jumps 0 -> 1 between neighbouring τ of the grid
    f = F.operating_regions(seeds_study([region_arrays([0.12, 0.17, 0.21], scale=0.5)]), grid, 400)
    assert "narrower than the grid step at branch 1, 2, 3" in f.text


def test_coarse_above_fine_and_exit_cost():
    assert F.coarse_above_fine(study(arrays(fine_right=0.5, coarse_right=0.9))).verdict == F.AS_PAPER
    assert F.coarse_above_fine(study(arrays(fine_right=0.95, coarse_right=0.5))).verdict == F.UNLIKE_PAPER
    f = F.exit_cost({"alexnet": [100.0], "gran-hbn": [30.0, 80.0, 140.0]}, "X")
    assert "0.30, 0.80, 1.40 ×" in f.text and f.verdict == F.AS_PAPER  # authors: 136.05 / 96.45
    assert F.exit_cost({"alexnet": [100.0], "gran-hbn": [30.0, 80.0, 200.0]}, "X").verdict == F.UNLIKE_PAPER


def test_all_findings_link_labels_the_notebooks_define():
    s = study(sem=np.full(400, 0.9))
    found = F.all_findings(s, {"alexnet": [100.0], "gran-hbn": [30.0, 80.0, 140.0]},
                           np.round(np.arange(0, 1.0001, 0.02), 2), 64, [1, 8, 64])
    assert 5 <= len(found) <= 9 and {f.verdict for f in found} >= {F.AS_PAPER, F.UNLIKE_PAPER}
    sources = "".join(p.read_text() for p in (Path(__file__).parent.parent / "notebooks").glob("*.md"))
    labels = {m for f in found for m in re.findall(r"\{numref\}`([^`]+)`", f.text)}
    assert labels and all(f'{label}' in sources for label in labels), labels
    md = F.as_markdown(found, numbered=True)
    assert md.count("\n") == len(found) and md.startswith("1. **")


def test_cells_are_text_with_one_unit():
    assert cell(np.nan) == NA and cell(None) == NA
    assert cell(0.12345, percent=True) == "12.35" and cell(0.5) == "0.500"
    assert cell(12000) == "12,000" and cell(3) == "3" and cell(True) == "yes"
    assert cell([1, 8, 64]) == "1, 8, 64" and cell(0.00015) == "0.00015"


def test_table_is_a_numbered_myst_table_without_index():
    df = pd.DataFrame({"exit": [1, 2], "fine": [0.5, np.nan]}, index=[7, 8])
    t = table(df, "Test accuracy | per exit", "tbl-x", percent=["fine"])
    md = t.markdown()
    assert md.startswith("```{table} Test accuracy \\| per exit\n:name: tbl-x\n")
    assert "| exit | fine (%) |" in md and "| 1 | 50.00 |" in md and f"| 2 | {NA} |" in md
    assert "7" not in md.split(":name:")[1].split("\n", 2)[2].split("|")[1]  # no index column
    assert "not applicable" in md  # a note explains the dash
    assert "<caption>" in t._repr_html_() and "nan" not in t._repr_html_().lower()
    with pytest.raises(ValueError):
        table(df, "x", "bad name!")


def test_selectors_finding_needs_validation_records_and_compares_with_tau(monkeypatch):
    f = F.selectors(study())  # run folder "g" holds no validation records
    assert f.verdict == F.BEYOND and "Not computed" in f.text and "python -m hbn evaluate <run dir>" in f.text
    import hbn.study
    a = arrays(n=600, seed=3)
    a.update(fine_maxprob=np.exp(-a["fine_entropy"]), coarse_maxprob=np.exp(-a["coarse_entropy"]))
    monkeypatch.setattr(hbn.study, "load_records", lambda path, split="test": None)
    monkeypatch.setattr(hbn.study, "as_arrays", lambda df: a)
    f = F.selectors(study(gran=a))
    for name in (S.PAPER_TAU, "oracle (bound)", *S.LEARNED.values()):
        assert name in f.text
    assert "seeds 0 (test set" in f.text and "one seed: no interval" in f.text
    three = {}
    for seed in range(3):
        g = arrays(n=600, seed=10 + seed)
        g.update(fine_maxprob=np.exp(-g["fine_entropy"]), coarse_maxprob=np.exp(-g["coarse_entropy"]))
        three[("gran-hbn", seed)] = Run(make_config("smoke", model="gran-hbn", seed=seed), Path("g"), None, g)
    f = F.selectors(Study("synthetic", "smoke", three))
    assert "seeds 0, 1, 2 (test set" in f.text and "95% interval over seeds" in f.text
    for name in S.LEARNED.values():
        assert re.search(re.escape(name) + r" [+−]\S+ points, 95% interval \S+ to \S+, above τ in [0-3] of 3 seeds", f.text)


def test_differences_in_points_never_read_as_zero():
    assert F._points(0.0123) == "+1.23" and F._points(0.00123) == "+0.12" and F._points(-0.00004) == "−0.0040"
    assert F._points(0.0) == "+0.00" and F._points(-1e-6) == "−0.00010" and F._points(np.nan) == "n/a"
    for x in (3e-7, -2.5e-5, 0.004):  # two significant digits, never zero, never e-notation
        shown = F._points(x)
        assert "e" not in shown and float(shown.replace("−", "-")) == pytest.approx(100 * x, rel=0.05)


def test_numbers_have_no_e_notation_and_small_differences_two_significant_digits():
    """Issue 19: "4.14e-06", "-9.276e-05" and raw lists or dicts never reach a table."""
    from hbn.tables import significant
    assert cell(4.14e-06) == "0.0000041" and cell(-9.276e-05, 4) == "-0.000093" and cell(5e-4, 4) == "0.0005"
    assert cell(1.3e8) == "130,000,000" and "e" not in cell(1.5e-4, 4)
    assert significant(-0.03) == "-0.030" and significant(0.000014) == "0.000014" and significant(1234.5) == "1,200"
    assert cell({"a": {}, "b": {"epochs": 12}}) == "a: —; b: epochs = 12"
    t = table(pd.DataFrame({"batch_size": [1], "d": [-9.276e-05]}), "c", "tbl-x", two_digits=["d"])
    assert list(t.frame.columns) == ["batch size", "d"] and t.frame.iloc[0, 1] == "-0.000093"


def test_the_ablation_finding_names_what_moves_delta():
    import pandas as pd
    from hbn.findings import ag_hbn_attributed

    def rows(setting_delta):
        return pd.DataFrame({"variant": ["as trained", "lr 1e-5", "the cut"],
                             "cut on P(fine)": [0.5, 0.5, 0.85],
                             "δ, test": [1.0, setting_delta, 0.75],
                             "accuracy, mean over exits": [0.91, 0.91, 0.94]})
    cut_moves = ag_hbn_attributed(rows(0.99), seed=1)
    assert "the cut moves δ, the post-training settings barely do" in cut_moves.text
    assert "lr 1e-5, δ = 99.00 %" in cut_moves.text and "(cut 0.850 instead of 0.500)" in cut_moves.text
    assert "as much as the cut" in ag_hbn_attributed(rows(0.70), seed=1).text
    assert "tbl-ablation" in cut_moves.text and cut_moves.verdict == "beyond the paper"


def test_calibrated_targets_counts_what_held_per_source_and_says_when_validation_fails():
    held = pd.DataFrame({"calibrated on": ["test half", "test half", "validation", "validation"],
                         "target": [0.92, 0.95, 0.92, 0.95], "choices": [20] * 4,
                         "certified": [20, 9, 20, 20], "held": [20, 9, 17, 5],
                         "worst margin (points)": [0.42, 0.34, -0.18, -0.58]})
    f = F.calibrated_targets(held, 0.95)
    assert f.verdict == F.BEYOND and "{numref}`tbl-op-held`" in f.text
    assert "validation split (cut from the training file), the target held in 22 of the 40" in f.text
    assert "17 of 20 at 92.00 %" in f.text and "worst margin −0.58 points" in f.text
    assert "test half of" not in f.text and "held in 29 of the 29 certified" in f.text
    assert "no guarantee on this test set" in f.text
    ok = held.assign(held=held.certified)  # validation holds as well as the test half: no warning
    assert "no guarantee" not in F.calibrated_targets(ok, 0.95).text
    assert "Not computed" in F.calibrated_targets(held.iloc[:0], 0.95).text
