import json

import pytest

from hbn import convergence, runs
from hbn.config import make_config


def _log(tmp_path, finals: dict, epochs: int, run_epochs: int | None = None, **overrides):
    cfg = make_config("standard", model="gran-hbn", dataset="synthetic", epochs=epochs,
                      out_dir=str(tmp_path), **overrides)
    run = runs.run_dir(cfg)
    run.mkdir(parents=True)
    lines = []
    for e in range(1, (run_epochs or epochs) + 1):
        scale = e / epochs  # accuracy grows to the final values
        lines.append({"epoch": e, "phase": "joint", **{f"val_exit{x}_{g}": round(v * scale, 4)
                      for (x, g), v in finals.items()}})
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    return {"epochs": epochs, **overrides}


def test_the_shortest_schedule_within_the_tolerance_is_chosen(tmp_path):
    f = lambda fine: {(x, g): (fine if g == "fine" else 0.95) for x in (1, 2, 3)  # noqa: E731
                      for g in ("fine", "coarse")}
    schedules = {"8": _log(tmp_path, f(0.890), 8), "12": _log(tmp_path, f(0.912), 12),
                 "20": _log(tmp_path, f(0.915), 20)}
    df = convergence.curves(str(tmp_path), "synthetic", "standard", schedules)
    assert set(df["epochs"]) == {8, 12, 20} and df["epoch"].max() == 20
    choice = convergence.fewest_epochs(df, ["8", "12", "20"], tolerance=0.005)
    assert choice["chosen"] == "12" and choice["epochs"] == 12
    assert choice["gaps"]["8"]["fine exit 1"] == pytest.approx(0.025)
    assert convergence.fewest_epochs(df, ["8", "12", "20"], tolerance=0.001)["chosen"] == "20"
    assert not choice["capped"] and choice["validation_choice"] == "12"
    # a time budget of 10 epochs caps the choice below what validation would take, and says so
    capped = convergence.fewest_epochs(df, ["8", "12", "20"], tolerance=0.005, max_epochs=10)
    assert (capped["chosen"], capped["epochs"], capped["capped"]) == ("8", 8, True)
    assert capped["validation_choice"] == "12" and capped["gaps"] == choice["gaps"]
    assert not convergence.fewest_epochs(df, ["8", "12", "20"], max_epochs=12)["capped"]
    with pytest.raises(ValueError, match="fits the budget of 5 epochs"):
        convergence.fewest_epochs(df, ["8", "12", "20"], max_epochs=5)


def test_an_unfinished_schedule_is_not_a_candidate(tmp_path):
    f = {(x, g): 0.9 for x in (1, 2, 3) for g in ("fine", "coarse")}
    schedules = {"12": _log(tmp_path, f, 12), "20": _log(tmp_path, f, 20, run_epochs=5)}
    df = convergence.curves(str(tmp_path), "synthetic", "standard", schedules)
    assert not convergence.finals(df).set_index("schedule").loc["20", "complete"]
    with pytest.raises(ValueError, match="two complete"):
        convergence.fewest_epochs(df, ["12", "20"])


def test_a_missing_log_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log"):
        convergence.curves(str(tmp_path), "synthetic", "standard", {"x": {"epochs": 3}})
