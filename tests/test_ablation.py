"""AG-HBN attributed (hbn.ablation): the cut chosen on validation reaches its share, and the
factor that moves the share of fine answers most is named."""
from pathlib import Path

import numpy as np
import pytest

from hbn import ablation as AB, selection as S
from hbn.config import make_config
from hbn.study import Run

from test_findings import arrays


def test_cut_for_specificity_reaches_its_share_on_validation():
    p = np.linspace(0.0, 1.0, 1001)
    c = S.cut_for_specificity(p, 0.75)
    assert np.mean(p > c) == pytest.approx(0.75, abs=0.002)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        S.cut_for_specificity(p, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        S.cut_for_specificity([np.nan, 0.5], 0.5)


def test_the_factor_that_moves_delta_is_named():
    n = 400
    rng = np.random.default_rng(0)
    base_p = 0.6 + 0.39 * rng.random(n)  # every image above 0.5: always fine
    runs = {"as trained": Run(make_config("smoke", model="ag-hbn"), Path("a"), None, arrays(sem=base_p)),
            "lr": Run(make_config("smoke", model="ag-hbn", post_lr=1e-5), Path("b"), None,
                      arrays(sem=np.clip(base_p - 0.02, 0, 1))),  # still always fine
            "long": Run(make_config("smoke", model="ag-hbn", post_epochs=5), Path("c"), None,
                        arrays(sem=np.where(np.arange(n) < 100, 0.3, 0.8)))}  # 3 in 4 fine
    t = AB.table(runs, 0.5, val_prob=lambda r: r.arrays["sem_prob_fine"])
    assert list(t["variant"])[:3] == ["as trained", "lr", "long"] and AB.CUT in t["variant"].iloc[-1]
    assert t["δ, test"].iloc[0] == 1.0 and t["δ, test"].iloc[2] == 0.75
    # the cut chosen on (here: the same) validation P(fine) gives half the images fine
    assert t["δ, test"].iloc[-1] == pytest.approx(0.5, abs=0.01)
    label, base, moved = AB.mover(t)
    assert label.startswith("as trained, " + AB.CUT) and base == 1.0
    assert t["post-training epochs"].iloc[2] == 5 and t["post-training lr"].iloc[1] == 1e-5
