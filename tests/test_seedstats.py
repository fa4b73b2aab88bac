"""Statistics over seeds (hbn.seedstats): the Student-t interval of one model, the Welch
interval of a difference of two, and the verdict an interval gives."""
import math

import numpy as np
import pytest

from hbn import seedstats as S
from hbn.seedstats import interval


def test_interval_is_student_t_95():
    mean, lo, hi = interval([1.0, 2.0, 3.0])  # s = 1, n = 3, t(0.975, 2) = 4.303
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)
    assert mean - lo == pytest.approx(hi - mean)
    m, lo1, hi1 = interval([5.0])
    assert m == 5.0 and math.isnan(lo1) and math.isnan(hi1)


def test_decide_reads_the_whole_interval():
    assert S.decide(0.1, 0.3, above=0) == S.HOLDS
    assert S.decide(-0.3, -0.1, above=0) == S.FAILS
    assert S.decide(-0.1, 0.3, above=0) == S.CANNOT_TELL
    assert S.decide(np.nan, np.nan, above=0) == S.CANNOT_TELL  # one seed: no verdict
    assert S.decide(-0.3, -0.1, below=0) == S.HOLDS
    assert S.decide(0.2, 0.8, inside=(0.01, 0.99)) == S.HOLDS
    assert S.decide(1.0, 1.0, inside=(0.01, 0.99)) == S.FAILS  # every seed answers fine
    assert S.decide(0.5, 1.0, inside=(0.01, 0.99)) == S.CANNOT_TELL


def test_welch_interval():
    d, lo, hi = S.welch([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    # se = 1/sqrt(3), Welch df = 2 -> t = 4.303
    assert d == 2.0 and hi - d == pytest.approx(4.303 / np.sqrt(3), rel=1e-6) and lo == pytest.approx(2 * d - hi)
    assert np.isnan(S.welch([1.0], [0.0, 1.0])[1])


def test_interval_beyond_the_table_uses_the_normal_quantile():
    x = np.arange(20.0)  # df = 19 > 10: z = 1.96
    m, lo, hi = interval(x)
    assert hi - m == pytest.approx(1.96 * x.std(ddof=1) / math.sqrt(20))
