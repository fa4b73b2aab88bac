"""The reproducibility report (hbn.report): every checklist item answered with a status and a
link, every number of the summary shown in the table it cites, validation beside test accuracy
from the validation records, training time from the logs."""
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hbn import records, report as R
from hbn.config import make_config
from hbn.records import as_arrays, load_records, save_records
from hbn.study import Run, Study

F2C = np.arange(12) // 3  # the synthetic hierarchy: 12 fine classes in 4 superclasses
HEADS = {"alexnet": {3: ("fine",)}, "gran-hbn": {e: ("fine", "coarse") for e in (1, 2, 3)}}


def fake_records(model: str, n: int, seed: int, right: float) -> pd.DataFrame:
    """Exit records of `n` images whose heads are right with probability `right`."""
    rng = np.random.default_rng(seed)
    ft = rng.integers(0, 12, n)
    rows = []
    for e, heads in HEADS[model].items():
        hit = rng.random((2, n)) < right
        fp = np.where(hit[0], ft, (ft + 1) % 12) if "fine" in heads else np.full(n, -1)
        cp = np.where(hit[1], F2C[ft], (F2C[ft] + 1) % 4) if "coarse" in heads else np.full(n, -1)
        ent = lambda g: rng.uniform(0.1, 1.0, n) if g in heads else np.full(n, np.nan)  # noqa: E731
        rows.append(pd.DataFrame({
            "image": np.arange(n), "exit": e, "fine_true": ft, "coarse_true": F2C[ft],
            "fine_pred": fp, "fine_pred_coarse": np.where(fp >= 0, F2C[np.maximum(fp, 0)], -1),
            "coarse_pred": cp, "fine_entropy": ent("fine"), "coarse_entropy": ent("coarse"),
            "fine_maxprob": ent("fine") / 2, "coarse_maxprob": ent("coarse") / 2,
            "sem_prob_fine": np.nan}))
    return pd.concat(rows).sort_values(["image", "exit"], ignore_index=True)[list(records.COLUMNS)]


@pytest.fixture
def study(tmp_path):
    """AlexNet seed 0 and Gran-HBN seeds 0 and 1 with test and validation records on disk
    (Gran-HBN seed 1 has no validation records), logs and meta."""
    runs = {}
    for i, (model, seed) in enumerate([("alexnet", 0), ("gran-hbn", 0), ("gran-hbn", 1)]):
        path = tmp_path / f"{model}-s{seed}"
        path.mkdir()
        test = fake_records(model, 240, 10 * i, 0.7)
        save_records(test, path)
        if (model, seed) != ("gran-hbn", 1):
            save_records(fake_records(model, 120, 10 * i + 1, 0.8), path, split="val")
        metrics = [{"epoch": k, "phase": "joint", "train_s": 60.0 * (i + 1), "img_per_s": 100.0}
                   for k in (1, 2)]
        meta = {"device": "cpu (X)", "threads": 1, "precision": "fp32", "torch": "2.x",
                "train_images": 1800}
        runs[(model, seed)] = Run(make_config("smoke", model=model, seed=seed), path,
                                  load_records(path), as_arrays(test), metrics, meta)
    return Study("synthetic", "smoke", runs)


MACHINE = {"cpu": "a CPU", "cores": 2, "threads": 2, "gpu": "none"}
CHOICE = {"chosen": "short", "epochs": 2, "longest": "long", "tolerance": 0.005,
          "gaps": {"short": {"fine exit 1": 0.001}, "long": {"fine exit 1": 0.0}},
          "validation_choice": "short", "capped": False, "max_epochs": 0}
SCHEDULES = {"long": {}, "short": {"epochs": 2}}


def test_a_length_capped_by_time_is_partly_met_and_says_what_validation_chose(study):
    f = R.facts(study, 0.25)
    item = "How hyperparameters were chosen, and the criterion"
    plain = R.checklist(study, f, CHOICE, SCHEDULES, MACHINE).set_index("item").loc[item]
    assert plain["status"] == R.MET and "Chosen: *short*, 2 epochs" in plain["answer"]
    capped = dict(CHOICE, gaps={"short": {"fine exit 1": 0.0228}, "long": {"fine exit 1": 0.0}},
                  validation_choice="long", capped=True, max_epochs=2)
    row = R.checklist(study, f, capped, SCHEDULES, MACHINE).set_index("item").loc[item]
    assert row["status"] == R.PARTLY
    assert "capped by the time a run may take at 2 epochs" in row["answer"]
    assert "Validation alone chose *long*; trained: *short*, 2 epochs, up to 2.28 points" in row["answer"]
    text = " ".join(R.summary(study, [], f, "", 512, capped=True).values())
    assert "more epochs would still improve every run" in text
    assert "more epochs would" not in " ".join(R.summary(study, [], f, "", 512).values())


def test_every_checklist_item_has_an_answer_a_status_and_a_link(study):
    f = R.facts(study, 0.25)
    for choice, schedules in ((CHOICE, SCHEDULES), (None, {})):
        rows = R.checklist(study, f, choice, schedules, MACHINE)
        assert len(rows) == 13 and R.unanswered(rows) == []
        assert rows["answer"].str.len().min() > 10
    status = rows.set_index("item")["status"]  # no schedule chosen on validation: not met, and why
    assert status["Hyperparameter bounds"] == R.NOT_MET
    assert status["How hyperparameters were chosen, and the criterion"] == R.NOT_MET
    assert "set by hand" in rows.set_index("item").loc["Hyperparameter bounds", "answer"]
    # one run without validation records, one model with seeds: partly, and says how many
    assert status["Validation performance for each test result"] == R.PARTLY
    assert status["Summary statistics with error bars"] == R.PARTLY
    assert "1 of 3 runs" in rows.set_index("item").loc["Validation performance for each test result", "answer"]
    blank = rows.copy()
    blank.loc[3, "answer"] = " "
    blank.loc[5, "where"] = "somewhere"
    assert R.unanswered(blank) == [rows.item[3], rows.item[5]]


def test_every_summary_number_is_shown_in_the_table_it_cites(study):
    f = R.facts(study, 0.25)
    tables = R.evidence_tables(study, 0.25, "synthetic · smoke profile")
    assert R.absent(f, tables) == []
    verdicts = [SimpleNamespace(claim="Coarse answers beat fine ones", section="§IV-A",
                                dataset="synthetic")]
    text = " ".join(R.summary(study, verdicts, f, "Results paragraph.", 512).values())
    for fact in f.values():  # each number the summary states, with the label it cites
        assert fact.value in text and fact.ref in text, fact
    assert f["minutes"].value == "12.0" and f["runs"].value == "3" and f["test"].value == "240"
    moved = dict(f, minutes=R.Fact("minutes", "12.1", "tbl-report-runtime"),
                 runs=R.Fact("runs", "3", "tbl-no-such-table"),
                 epochs=R.Fact("epochs", "99", "tbl-report-runtime"))
    assert set(R.absent(moved, tables)) == {"minutes", "runs", "epochs"}


def test_validation_beside_test_comes_from_the_validation_records(study):
    vt = R.validation_and_test(study).set_index(["model", "seed", "exit"])
    g = study.run("gran-hbn")
    val = load_records(g.path, "val")
    for e in (1, 2, 3):
        v, t = val[val.exit == e], g.records[g.records.exit == e]
        assert vt.loc[("Gran-HBN", 0, e), "fine, validation"] == (v.fine_pred == v.fine_true).mean()
        assert vt.loc[("Gran-HBN", 0, e), "coarse, test"] == (t.coarse_pred == t.coarse_true).mean()
    assert vt.loc[("Gran-HBN", 1)]["fine, validation"].isna().all()
    assert np.isnan(vt.loc[("AlexNet", 0, 3), "coarse, test"])
    assert R.without_validation(study) == [("gran-hbn", 1)]
    data = R.dataset_statistics(study).set_index("split")
    assert data.loc["validation", "images"] == 120 and data.loc["test", "images"] == 240


def test_runtime_sums_the_logs_and_ends_with_all_runs(study):
    t = R.runtime(study)
    assert list(t["training minutes"]) == [2.0, 4.0, 6.0, 12.0] and t["epochs"].iloc[-1] == 6
    assert t["model"].iloc[-1] == "all 3 runs" and t["seed"].isna().iloc[-1]


def test_the_labels_the_report_links_are_defined_by_the_pages(study):
    f = R.facts(study, 0.25)
    rows = R.checklist(study, f, CHOICE, SCHEDULES, MACHINE)
    text = " ".join(rows["where"]) + " ".join(R.summary(study, [], f, "", 512).values())
    sources = "".join(p.read_text() for p in (Path(__file__).parent.parent / "notebooks").glob("*.md"))
    labels = set(re.findall(r"\{numref\}`([^`]+)`", text))
    assert labels and all(f'"{label}"' in sources or f"name: {label}" in sources
                          or label.startswith("tbl-report-") for label in labels), labels
    own = set(R.evidence_tables(study, 0.25, "x"))
    assert {x for x in labels if x.startswith("tbl-report-")} <= own
    docs = set(re.findall(r"\{doc\}`([^`]+)`", text))
    assert docs <= {"methods", "schedule", "02-evaluate"}


def test_a_profile_without_a_schedule_page_links_none(study):
    """The quick book has no schedule page: its report must not link one (a broken {doc})."""
    f = R.facts(study, 0.25)
    text = " ".join(R.summary(study, [], f, "", 512, schedule_page=False).values())
    assert "{doc}`schedule`" not in text and "set by hand" in text
    assert "{doc}`schedule`" in " ".join(R.summary(study, [], f, "", 512).values())


def test_runs_in_different_arithmetic_are_counted_and_the_intervals_said_to_include_it(study):
    f = R.facts(study, 0.25)
    assert "in fp32; no GPU was used" in R.summary(study, [], f, "", 512)["methodology"]
    study.runs[("gran-hbn", 1)].meta["precision"] = "bf16 autocast (CPU)"
    text = R.summary(study, [], f, "", 512)["methodology"]
    assert ("in fp32 (2 runs) and bf16 autocast (CPU) (1 run), as each machine allowed: the "
            "intervals over seeds include that difference; no GPU") in text
