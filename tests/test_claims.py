"""The paper's claims tested (hbn.claims): verdicts follow the intervals, one seed never gives a
verdict, and every number of a verdict is in the evidence table the Findings page shows."""
import re
from pathlib import Path

import numpy as np

from hbn import claims as C
from hbn.config import make_config
from hbn.study import Run, Study

from test_findings import arrays


def baseline(n=400, seed=0, right=0.6, fine_exits=(True, True, True)):
    """Exit records of a baseline: the fine head where `fine_exits`, else the coarse head only."""
    a = arrays(n, seed, fine_right=right, coarse_right=right)
    for b, fine in enumerate(fine_exits):
        a["fine_pred" if not fine else "coarse_pred"][:, b] = -1
        a["fine_entropy" if not fine else "coarse_entropy"][:, b] = np.nan
        if not fine:
            a["fine_pred_coarse"][:, b] = -1
    return a


def study(gran_seeds=(0, 1, 2), base_seeds=(0, 1, 2), gran_fine=0.6, base_right=0.6, ag=None):
    runs = {("gran-hbn", s): Run(make_config("smoke", model="gran-hbn", seed=s), Path("g"), None,
                                 arrays(seed=s, fine_right=gran_fine)) for s in gran_seeds}
    for s in base_seeds:
        runs[("b-alexnet", s)] = Run(make_config("smoke", model="b-alexnet", seed=s), Path("b"), None,
                                     baseline(seed=10 + s, right=base_right))
    for s, sem in (ag or {}).items():
        runs[("ag-hbn", s)] = Run(make_config("smoke", model="ag-hbn", seed=s), Path("a"), None,
                                  arrays(seed=20 + s, sem=sem))
    return Study("synthetic", "smoke", runs)


def test_verdicts_follow_the_data():
    by = {v.key: v for v in C.assess(study())}
    # coarse right 90 % against fine 60 %: the trade-off holds at every seed
    assert by["trade-off"].verdict == C.HOLDS and by["trade-off"].lo > 0
    # fine right 99 %: coarse answers (90 %) are now less accurate, and the claim fails
    assert {v.key: v for v in C.assess(study(gran_fine=0.99))}["trade-off"].verdict == C.FAILS
    # Gran-HBN fine 60 % against a B-AlexNet right 90 % of the time: far below, does not hold
    assert {v.key: v for v in C.assess(study(base_right=0.9))}["extremes-fine"].verdict == C.FAILS
    assert {v.key: v for v in C.assess(study(gran_fine=0.9, base_right=0.5))}["extremes-fine"].verdict == C.HOLDS
    # one seed of the baseline: no interval, no verdict
    one = {v.key: v for v in C.assess(study(base_seeds=(0,)))}["extremes-fine"]
    assert one.verdict == C.CANNOT_TELL and "one seed: no interval" in one.text
    assert "1 seed of B-AlexNet" in one.n
    # claims of models the study lacks are left out (no Sem-AlexNet, no AG-HBN here)
    assert "extremes-coarse" not in by and "ag-hbn-mixes" not in by


def test_ag_hbn_that_always_answers_fine_does_not_mix():
    n = 400
    always = {s: np.full(n, 0.9) for s in (0, 1, 2)}
    v = {v.key: v for v in C.assess(study(ag=always))}["ag-hbn-mixes"]
    assert v.verdict == C.FAILS and v.effect == 1.0
    mixed = {s: np.where(np.arange(n) < 200 + 20 * s, 0.8, 0.2) for s in (0, 1, 2)}
    assert {v.key: v for v in C.assess(study(ag=mixed))}["ag-hbn-mixes"].verdict == C.HOLDS


NUMBER = re.compile(r"[+−-]?\d+\.\d+")


def test_every_number_of_a_verdict_is_in_its_evidence():
    s = study(ag={s: np.where(np.arange(400) < 250, 0.8, 0.2) for s in (0, 1, 2)})
    for v in C.assess(s):
        shown = C.evidence(s, v.key).reset_index().astype(str).to_numpy().ravel().tolist()
        for number in NUMBER.findall(v.text):
            assert number in shown, (v.key, number, shown)


def test_summary_names_each_verdict():
    vs = C.assess(study(base_seeds=(0,)))
    text = C.summary_markdown(vs, "synthetic")
    n = C.counts(vs)
    assert f"{n[C.HOLDS]} hold" in text and f"For {n[C.CANNOT_TELL]} the seeds trained cannot tell" in text
    assert all(v.shown in text for v in vs)
    # a number whose unit does not say what it is is named
    by = {v.key: v for v in C.assess(study(ag={s: np.full(400, 0.8) for s in (0, 1, 2)}))}
    assert by["ag-hbn-mixes"].shown.startswith("δ = ") and by["ag-hbn-mixes"].text.startswith("δ = ")
    assert re.fullmatch(r"δ = \d+\.\d\d %", by["ag-hbn-mixes"].shown)  # in %, as Findings write δ
    assert by["region-depth"].shown.endswith(" in τ") and by["entropy-falls"].shown.endswith(" nats")
    table = C.table({"synthetic": vs, "Tiny ImageNet 100/20": "not yet trained"})
    assert list(table.columns) == ["claim", "synthetic", "Tiny ImageNet 100/20"]
    assert table["synthetic"].str.contains("{numref}`tbl-claim-").sum() == len(vs)
    assert (table["Tiny ImageNet 100/20"] == "not yet trained").all()

