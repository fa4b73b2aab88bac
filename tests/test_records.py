"""Records round-trip: every routing decision made on loaded records equals the one made on the
records in memory (float32, as hbn.records.exit_records produces them)."""
import gzip

import numpy as np
import pandas as pd
import pytest

from hbn import analysis as A, records, routing as R

N, EXITS = 600, 3


def adversarial_records(seed=0) -> pd.DataFrame:
    """float32 records whose values sit where 6 significant digits would move a decision:
    entropies with many digits, semantic probabilities within a few float32 steps of 0.5."""
    rng = np.random.default_rng(seed)
    ef = rng.gamma(2.0, 0.4, (N, EXITS)).astype(np.float32)
    ec = rng.gamma(2.0, 0.3, (N, EXITS)).astype(np.float32)
    steps = rng.integers(-3, 4, N)  # float32 steps from 0.5, e.g. 0.49999997 -> "0.5" at %.6g
    sem = np.array([np.float32(0.5) + np.float32(k) * np.float32(2.0 ** -25) for k in steps],
                   dtype=np.float32)
    sem[::5] = rng.uniform(0, 1, len(sem[::5]))
    f2c = np.arange(12) // 3
    ft = rng.integers(0, 12, N)
    rows = {"image": np.repeat(np.arange(N), EXITS), "exit": np.tile(np.arange(1, EXITS + 1), N),
            "fine_true": np.repeat(ft, EXITS), "coarse_true": np.repeat(f2c[ft], EXITS),
            "fine_pred": rng.integers(0, 12, N * EXITS), "coarse_pred": rng.integers(0, 4, N * EXITS),
            "fine_entropy": ef.ravel(), "coarse_entropy": ec.ravel(),
            "fine_maxprob": rng.uniform(0, 1, N * EXITS).astype(np.float32),
            "coarse_maxprob": rng.uniform(0, 1, N * EXITS).astype(np.float32),
            "sem_prob_fine": np.repeat(sem, EXITS)}
    rows["fine_pred_coarse"] = f2c[rows["fine_pred"]]
    return pd.DataFrame(rows)[list(records.COLUMNS)]


def settings(a):
    """τ and Th on the paper grid and on values taken from the in-memory records themselves,
    the most fragile comparisons (a τ equal to an image's or a batch's e_f - e_c)."""
    ef, ec = (np.asarray(a[k], np.float64) for k in ("fine_entropy", "coarse_entropy"))
    d = ef - ec
    taus = np.r_[A.paper_tau_grid(), d[:50, 0], R.unit_means(d[:, 1], np.arange(0, N, 64))]
    return taus, [ef[7], np.full(EXITS, ec[3, 0]), [0.5, 0.8, 0.0]]


def decisions(a, taus, ths) -> dict:
    """Every routing decision the analysis makes, keyed by rule and setting."""
    ef, ec, sem = a["fine_entropy"], a["coarse_entropy"], a["sem_prob_fine"]
    out = {}
    for mode, bs in (("sample", 1), ("batch", 64), ("batch", 512)):
        for t in taus:
            for b in range(EXITS):
                out["forced", mode, bs, b, t] = R.gran_hbn_forced(ef[:, b], ec[:, b], t, mode, bs)
            for k, th in enumerate(ths):
                out["algorithm1", mode, bs, k, t] = R.gran_hbn(ef, ec, th, t, mode, bs)
        for k, th in enumerate(ths):
            out["branchynet", mode, bs, k] = R.branchynet(ef, th, mode, bs)
            out["ag-hbn", mode, bs, k] = R.ag_hbn(ef, ec, sem, th, mode, bs)
        out["ag-hbn forced", mode, bs] = R.ag_hbn_forced(sem, mode, bs)
    return out


def same(x, y) -> bool:
    x, y = (v if isinstance(v, tuple) else (v,) for v in (x, y))
    return all(np.array_equal(u, v) for u, v in zip(x, y, strict=True))


def test_every_routing_decision_survives_save_and_load(tmp_path):
    df = adversarial_records()
    a = records.as_arrays(df)
    before = decisions(a, *settings(a))
    loaded = records.load_records(records.save_records(df, tmp_path))
    assert loaded.fine_entropy.dtype == np.float32
    for c in records.FLOATS:  # bit for bit, NaN included
        assert np.array_equal(loaded[c].to_numpy(), df[c].to_numpy(), equal_nan=True), c
    after = decisions(records.as_arrays(loaded), *settings(a))
    flipped = [k for k in before if not same(before[k], after[k])]
    assert not flipped and len(before) > 1000


@pytest.mark.parametrize("fmt,read_float32", [("%.6g", True), ("%.9g", False)])
def test_the_check_can_fail(tmp_path, fmt, read_float32):
    # Both halves matter: 6 digits (the old format) lose P(fine) just below 0.5 and move
    # entropies off the τ and Th taken from them; 9 digits read back as float64 decimals are
    # not the float32 values either, and τ equal to some e_f - e_c flip.
    df = adversarial_records()
    a = records.as_arrays(df)
    before = decisions(a, *settings(a))
    path = tmp_path / records.RECORDS_FILE
    df.to_csv(path, index=False, float_format=fmt, compression={"method": "gzip", "mtime": 0})
    if fmt == "%.6g":
        with gzip.open(path, "rt") as f:
            assert ",0.5\n" in f.read()  # 0.49999997 written as 0.5
        loaded = records.load_records(tmp_path)  # old files still load
    else:
        loaded = pd.read_csv(path)
    assert (loaded.fine_entropy.dtype == np.float32) == read_float32
    after = decisions(records.as_arrays(loaded), *settings(a))
    assert any(not same(before[k], after[k]) for k in before)


def test_nan_columns_survive(tmp_path):
    df = adversarial_records().assign(sem_prob_fine=np.float32("nan"))
    # exit 1 without a fine head (as Sem-AlexNet's): -1 predictions, NaN entropy and probability
    df.loc[df.exit == 1, ["fine_entropy", "fine_maxprob"]] = np.nan
    df.loc[df.exit == 1, ["fine_pred", "fine_pred_coarse"]] = -1
    loaded = records.load_records(records.save_records(df, tmp_path))
    assert loaded.sem_prob_fine.isna().all() and loaded[loaded.exit == 1].fine_entropy.isna().all()
    with pytest.raises(ValueError, match="semantic exit"):
        R.ag_hbn_forced(records.as_arrays(loaded)["sem_prob_fine"])
