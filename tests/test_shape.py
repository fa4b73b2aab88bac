"""What a dataset is and whether it poses the paper's questions (hbn.shape): readings computed
from the records, set beside another dataset's."""
import numpy as np
import pytest

from hbn import selection as S, shape
from tests.test_findings import arrays, study


def test_readings_come_from_the_records():
    a = arrays(n=600, seed=3, fine_right=0.5, coarse_right=0.95)
    s = study(gran=a, sem=np.full(600, 0.7))
    s.runs[("gran-hbn", 0)].meta = {"train_images": 1234}
    r = shape.readings(s)
    coarse = (a["coarse_pred"][:, 0] == a["coarse_true"]).mean()
    mapped = (a["fine_pred_coarse"][:, 0] == a["coarse_true"]).mean()
    assert r.iloc[:4].tolist() == [6, 3, 1234, 600]
    assert r.iloc[4] == pytest.approx(100 * (coarse - mapped)) and r.iloc[4] > 10
    assert r.iloc[5] == pytest.approx(np.median(a["fine_entropy"][:, 0]))
    assert r.iloc[6] == pytest.approx(r.iloc[5] / np.log(6))
    ag = s.run("ag-hbn")
    target = S.semantic_target(ag.arrays, ag.config.sem_fine_weight)
    assert r.iloc[7] == pytest.approx(target.mean())


def test_a_reading_without_its_run_says_so_and_the_paragraph_sets_both_datasets_side_by_side():
    one, other = study(), study(gran=arrays(seed=1, fine_right=0.9, coarse_right=0.9))
    other.dataset = "fashion-mnist"
    t = shape.table([one, other])
    assert t.loc[list(shape.ROWS)[-1]].tolist() == ["not trained yet"] * 2  # no AG-HBN run
    assert t.loc["fine classes"].tolist() == ["6", "6"]
    text = shape.about(other, one)
    assert text.startswith(shape.ABOUT["fashion-mnist"])
    gain = shape.readings(other).iloc[4]
    signed = lambda x: f"{x:+.2f}".replace("-", "−")  # noqa: E731  (a true minus, as in prose)
    assert f"mapped to its superclass is {signed(gain)} points" in text and "tbl-dataset-shape" in text
    assert f"({one.title}: {signed(shape.readings(one).iloc[4])} points" in text


def test_the_other_dataset_is_read_when_its_gran_hbn_has_finished(tmp_path):
    assert shape.other_study(str(tmp_path), {"fashion-mnist": "standard"}) is None
    o = shape.other_study("runs", {"cifar100": "standard", "fashion-mnist": "standard"})
    assert o.title == "Fashion-MNIST" and set(o.runs) == {("gran-hbn", 0), ("ag-hbn", 0)}
