import json
import math

import pytest

from hbn import runs
from hbn.config import make_config
from hbn.reuse import same_experiment
from hbn.study import AUTHORS_FORCED, AUTHORS_REGIONS
from hbn.train import train_or_reuse


def test_authors_tables_are_design_md_section_5():
    assert AUTHORS_FORCED.set_index("model").loc["AlexNet", "branch 3"] == 48.71
    assert AUTHORS_REGIONS["size"].tolist() == [0.08, 0.12, 0.12]


def test_train_or_reuse_reuses_and_refuses_a_different_experiment(tmp_path, synthetic):
    cfg = make_config("smoke", model="alexnet", epochs=1, out_dir=str(tmp_path))
    run = train_or_reuse(cfg, synthetic, log=lambda *_: None)
    stamp = (run / "model.pt").stat().st_mtime_ns
    lines = []
    assert train_or_reuse(cfg, synthetic, log=lines.append) == run
    assert "reusing" in lines[0] and (run / "model.pt").stat().st_mtime_ns == stamp
    # Where a run lives is not part of the experiment; what it computes is.
    assert same_experiment(cfg, make_config("smoke", model="alexnet", epochs=1, out_dir="elsewhere"))
    # Other settings make a variant with its own folder ...
    other = make_config("smoke", model="alexnet", epochs=1, lr=0.5, out_dir=str(tmp_path))
    assert runs.run_dir(other) != run
    # ... and a folder whose stored config differs (say, the profile was edited) is refused.
    stored = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**stored, "lr": 0.5}))
    with pytest.raises(FileExistsError, match="different configuration.*lr: 0.5 vs"):
        train_or_reuse(cfg, synthetic, log=lambda *_: None)


def test_training_cost_sums_the_logged_training_time():
    from pathlib import Path

    from hbn.study import Run, Study, training_cost
    metrics = [{"epoch": 1, "phase": "joint", "train_s": 90.0, "img_per_s": 300.0},
               {"epoch": 2, "phase": "joint", "train_s": 30.0, "img_per_s": 500.0},
               {"epoch": 3, "phase": "post", "train_s": 60.0, "img_per_s": 400.0},
               {"note": "a line without training time is not an epoch"}]
    meta = {"precision": "bf16 autocast (CPU)", "device": "cpu (X)", "threads": 1}
    runs_ = {("ag-hbn", 0): Run(make_config("smoke", model="ag-hbn"), Path("a"), None, {}, metrics, meta),
             ("gran-hbn", 1): Run(make_config("smoke", model="gran-hbn"), Path("g"), None, {}, [], {})}
    t = training_cost(Study("synthetic", "smoke", runs_)).set_index(["model", "seed"])
    ag = t.loc[("AG-HBN", 0)]
    assert ag["epochs"] == 3 and ag["training minutes"] == 3.0
    assert ag["images/s"] == pytest.approx((90 * 300 + 30 * 500 + 60 * 400) / 180)  # images / seconds
    assert ag["precision"] == "bf16 autocast (CPU)" and ag["threads"] == 1
    gran = t.loc[("Gran-HBN", 1)]
    assert gran["epochs"] == 0 and gran["training minutes"] == 0 and math.isnan(gran["images/s"])
    assert math.isnan(ag["wall minutes"])  # a log without epoch_wall_s: not recorded, not 0
    timed = [{**m, "epoch_wall_s": 2 * m["train_s"]} for m in metrics[:3]] + metrics[3:]
    w = training_cost(Study("synthetic", "smoke", {("ag-hbn", 0): Run(
        make_config("smoke", model="ag-hbn"), Path("w"), None, {}, timed, meta)})).iloc[0]
    assert w["wall minutes"] == 6.0 and w["training minutes"] == 3.0
    fork = Run(make_config("smoke", model="ag-hbn"), Path("f"), None, {}, metrics, {"forked_at_epoch": 2})
    f = training_cost(Study("synthetic", "smoke", {("ag-hbn", 0): fork})).iloc[0]
    assert f["epochs"] == 1 and f["training minutes"] == 1.0 and f["note"] == "forked at epoch 2"
    resumed = {"threads": 1, "resumed": [{"at_epoch": 4, "threads": 1}, {"at_epoch": 9, "threads": 2}]}
    r = training_cost(Study("synthetic", "smoke", {("gran-hbn", 2): Run(
        make_config("smoke", model="gran-hbn"), Path("r"), None, {}, metrics, resumed)})).iloc[0]
    assert r["threads"] == "1, 2 after epoch 9" and r["note"] == "resumed after epoch 4, 9"
    moved = {"device": "cpu (Intel Xeon)", "precision": "bf16 autocast (CPU)", "resumed": [
        {"at_epoch": 3, "device": "cpu (Intel Xeon)", "precision": "bf16 autocast (CPU)"},
        {"at_epoch": 7, "device": "cpu (AMD EPYC)", "precision": "fp32 (CPU without native bf16)"}]}
    m = training_cost(Study("synthetic", "smoke", {("gran-hbn", 2): Run(
        make_config("smoke", model="gran-hbn"), Path("m"), None, {}, metrics, moved)})).iloc[0]
    assert m["note"] == ("resumed after epoch 3, 7; "  # the same machine says nothing more
                         "from epoch 8 on cpu (AMD EPYC), fp32 (CPU without native bf16)")


def test_authors_values_read_off_figures_keep_their_approximation_sign():
    """Issue 19: DESIGN.md §5 marks Gran-HBN's rows "≈" (read off the authors' figures); the
    book prints them so, to the one decimal read, and the printed values to two."""
    from hbn.study import authors_forced_shown
    shown = authors_forced_shown().set_index("answer")
    assert shown.loc["specificity 0 (all coarse)", "branch 1"] == "≈64.0"
    assert shown.loc["specificity 1 (all fine)", "branch 3"] == "≈51.7"
    assert shown.loc["specificity ≈ 0.75", "branch 1"] == "54.87"
    assert authors_forced_shown().set_index("model").loc["B-AlexNet", "branch 2"] == "53.03"


def test_validation_records_are_read_once_per_study_and_missing_ones_listed(monkeypatch, tmp_path):
    import hbn.study
    from hbn.study import Run, Study
    reads = []

    def load(path, split="test"):
        reads.append((path, split))
        if path.name == "gone":
            raise FileNotFoundError(path)
        return path.name

    monkeypatch.setattr(hbn.study, "load_records", load)
    monkeypatch.setattr(hbn.study, "as_arrays", lambda df: {"from": df})
    st = Study("synthetic", "smoke", {("gran-hbn", s): Run(make_config("smoke", model="gran-hbn", seed=s),
                                                           tmp_path / name, None, None)
                                      for s, name in ((0, "here"), (1, "gone"))})
    val, missing = st.validation("gran-hbn")
    assert val == {0: {"from": "here"}} and missing == [tmp_path / "gone"]
    assert st.validation("gran-hbn") == (val, missing) and len(reads) == 2  # read once
    assert all(split == "val" for _, split in reads)
