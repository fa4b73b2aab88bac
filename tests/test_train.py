import json

import pytest
import torch

from hbn import runs
from hbn.cli import main
from hbn.config import RunConfig, make_config
from hbn.evaluate import accuracy_table, evaluate
from hbn.train import train


def _cfg(tmp_path, **kw):
    return make_config("smoke", out_dir=str(tmp_path), **kw)


def test_resume_ends_with_the_same_weights(tmp_path, synthetic):
    # AG-HBN, 3 epochs = 2 joint + 1 post-training: interrupt after each phase boundary.
    a = _cfg(tmp_path / "a", model="ag-hbn", epochs=3)
    b = _cfg(tmp_path / "b", model="ag-hbn", epochs=3)
    run_a = train(a, synthetic, progress=False, log=lambda *_: None)
    run_b = train(b, synthetic, progress=False, log=lambda *_: None, stop_after=1)
    assert not (run_b / "model.pt").exists()
    with pytest.raises(FileExistsError, match="--resume"):
        train(b, synthetic, progress=False, log=lambda *_: None)
    with open(run_b / "metrics.jsonl", "a") as f:  # as if a crash came after logging epoch 2
        f.write(json.dumps({"epoch": 2, "phase": "joint"}) + "\n")
    train(b, synthetic, resume=True, progress=False, log=lambda *_: None, stop_after=2)
    train(b, synthetic, resume=True, progress=False, log=lambda *_: None)
    wa = torch.load(run_a / "model.pt")["model"]
    wb = torch.load(run_b / "model.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    metrics = runs.read_metrics(run_b)
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert [m["phase"] for m in metrics] == ["joint", "joint", "post"]
    assert 0 <= metrics[-1]["val_sem_target_fine_share"] <= 1
    assert 0 <= metrics[-1]["val_sem_agreement"] <= 1


def test_post_training_changes_only_the_semantic_exit(tmp_path, synthetic):
    cfg = _cfg(tmp_path, model="ag-hbn", epochs=2)
    run = train(cfg, synthetic, progress=False, log=lambda *_: None, stop_after=1)
    before = torch.load(run / "checkpoint.pt")["model"]
    train(cfg, synthetic, resume=True, progress=False, log=lambda *_: None)
    after = torch.load(run / "model.pt")["model"]
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"exits.0.classifiers.semantic.weight", "exits.0.classifiers.semantic.bias"}


def test_run_directory_contents_and_evaluation(tmp_path, synthetic):
    run = train(_cfg(tmp_path, model="sem-alexnet", epochs=2), synthetic, progress=False,
                log=lambda *_: None)
    assert RunConfig.from_dict(json.loads((run / "config.json").read_text())).model == "sem-alexnet"
    meta = json.loads((run / "meta.json").read_text())
    assert {"git", "torch", "torchvision", "device", "dataset_title"} <= set(meta)
    assert meta["shortened"] is True  # the per-epoch curves use the training's arithmetic:
    assert meta["validation_precision"].split()[0] == meta["precision"].split()[0]  # bf16 / fp32
    assert meta["subnormals"].startswith("flushed to zero")  # the 2x slowdown of long CPU runs
    assert meta["memory_format"] == "channels_last"  # the fast path on a CPU, bf16 or fp32
    metrics = runs.read_metrics(run)
    assert len(metrics) == 2 and {"val_exit1_coarse", "val_exit3_fine"} <= set(metrics[0])
    for m in metrics:  # an epoch's wall time holds its training and its validation pass
        assert 0 < m["validate_s"] and m["train_s"] + m["validate_s"] <= m["epoch_wall_s"] + 0.02
        assert 0 < m["cpu_s"]  # CPU seconds of the epoch, all threads (pauses do not count)
    df = evaluate(run, synthetic)
    assert len(df) == 3 * len(synthetic.test)
    table = accuracy_table(df)
    assert table.loc[1, "fine"] != table.loc[1, "fine"]  # NaN: Sem-AlexNet's exit 1 is coarse only
    assert 0 <= table.loc[3, "fine"] <= 1
    # evaluation is deterministic
    assert evaluate(run, synthetic).equals(df)


def test_corrupt_checkpoint_is_reported(tmp_path, synthetic):
    cfg = _cfg(tmp_path, model="alexnet", epochs=2)
    run = train(cfg, synthetic, progress=False, log=lambda *_: None, stop_after=1)
    (run / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="corrupt"):
        train(cfg, synthetic, resume=True, progress=False, log=lambda *_: None)


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="unknown profile"):
        make_config("huge")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        make_config("smoke", epochs=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        make_config("smoke", lr=-1.0)
    with pytest.raises(ValueError, match="unknown dataset"):
        make_config("smoke", dataset="imagenet")
    with pytest.raises(ValueError, match="AG-HBN needs"):
        make_config("smoke", model="ag-hbn", epochs=1)
    assert make_config("paper", model="gran-hbn").granularity_weights == (1.5, 0.75)
    assert make_config("paper").shortened is False


def test_cli_rejects_bad_input_before_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "resnet"])
    assert main(["train", "--profile", "smoke", "--epochs", "-1", "--out-dir", str(tmp_path)]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was written


def test_cli_models_table(capsys):
    assert main(["models", "--width", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "Gran-HBN" in out and "AG-HBN" in out and "31.78" in out


def test_cli_train_and_evaluate_smoke(tmp_path, capsys):
    assert main(["train", "--model", "b-alexnet", "--profile", "smoke", "--epochs", "1",
                 "--out-dir", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "SHORTENED" in out and "coarse" in out
    # --epochs 1 differs from the smoke profile: the run is a variant with its own folder
    [run] = (tmp_path / "synthetic").glob("smoke-*/b-alexnet-s0")
    assert (run / "records.csv.gz").exists()
    assert main(["evaluate", str(run)]) == 0


def test_cli_exposes_every_run_config_field_and_passes_it_through(tmp_path, capsys):
    import dataclasses
    from hbn.cli import parser
    from hbn.config import RunConfig
    helps = parser().parse_args(["train"])
    for f in dataclasses.fields(RunConfig):
        assert hasattr(helps, f.name), f"no CLI flag for RunConfig.{f.name}"
    assert main(["train", "--model", "alexnet", "--profile", "smoke", "--epochs", "1",
                 "--lr", "0.002", "--fine-weight", "3", "--no-fast", "--out-dir", str(tmp_path),
                 "--no-progress"]) == 0
    [run] = (tmp_path / "synthetic").glob("smoke-*/alexnet-s0")
    stored = json.loads((run / "config.json").read_text())
    assert (stored["lr"], stored["fine_weight"], stored["fast"], stored["epochs"]) == (0.002, 3.0, False, 1)


def test_cli_refuses_non_finite_numbers(capsys):
    import pytest as _pytest
    with _pytest.raises(SystemExit):
        main(["train", "--width", "inf"])
    assert "not a finite number" in capsys.readouterr().err


def test_resume_of_a_finished_run_changes_nothing(tmp_path, synthetic):
    cfg = _cfg(tmp_path, model="alexnet", epochs=1)
    run = train(cfg, synthetic, progress=False, log=lambda *_: None)
    (run / "checkpoint.pt").unlink()
    before = (run / "model.pt").read_bytes(), (run / "metrics.jsonl").read_text()
    lines = []
    assert train(cfg, synthetic, resume=True, progress=False, log=lines.append) == run
    assert "nothing to resume" in lines[0]
    assert ((run / "model.pt").read_bytes(), (run / "metrics.jsonl").read_text()) == before


def test_an_ag_hbn_schedule_other_than_100_plus_20_is_flagged_shortened():
    assert make_config("paper", model="ag-hbn").shortened is False
    assert make_config("paper", model="ag-hbn", post_epochs=5).shortened is True


def test_a_post_training_fork_equals_training_the_variant_from_scratch(tmp_path, synthetic):
    import dataclasses
    from hbn.reuse import fork_post_training
    quiet = dict(progress=False, log=lambda *_: None)
    cfg = _cfg(tmp_path / "a", model="ag-hbn", epochs=3)  # 2 joint + 1 post
    run = train(cfg, synthetic, **quiet)
    forked = fork_post_training(run, log=lambda *_: None, post_mode="eval")
    assert forked != run and "eval" == runs.load_config(forked).post_mode
    train(runs.load_config(forked), synthetic, resume=True, **quiet)
    scratch = train(dataclasses.replace(cfg, post_mode="eval", out_dir=str(tmp_path / "b")),
                    synthetic, **quiet)
    wf, ws = torch.load(forked / "model.pt")["model"], torch.load(scratch / "model.pt")["model"]
    assert all(torch.equal(wf[k], ws[k]) for k in wf)
    assert [m["epoch"] for m in runs.read_metrics(forked)] == [1, 2, 3]
    with pytest.raises(ValueError, match="changes only"):
        fork_post_training(run, lr=0.1)


def test_post_mode_changes_what_post_training_learns(tmp_path, synthetic):
    quiet = dict(progress=False, log=lambda *_: None)
    w = {}
    for mode in ("train", "eval"):
        run = train(_cfg(tmp_path / mode, model="ag-hbn", epochs=3, post_mode=mode), synthetic, **quiet)
        w[mode] = torch.load(run / "model.pt")["model"]["exits.0.classifiers.semantic.weight"]
    assert not torch.equal(w["train"], w["eval"])


def test_post_training_settings_are_inert_for_models_without_a_semantic_exit():
    from hbn.runs import run_dir
    from hbn.reuse import same_experiment
    base = make_config("smoke", model="gran-hbn")
    other = make_config("smoke", model="gran-hbn", post_epochs=3, post_mode="eval")
    assert same_experiment(base, other) and run_dir(base) == run_dir(other)
    ag, ag_eval = make_config("smoke", model="ag-hbn"), make_config("smoke", model="ag-hbn", post_mode="eval")
    assert not same_experiment(ag, ag_eval) and run_dir(ag) != run_dir(ag_eval)


def test_a_fork_may_lengthen_post_training_and_refuses_other_changes(tmp_path, synthetic):
    import dataclasses
    from hbn.reuse import fork_for
    quiet = dict(progress=False, log=lambda *_: None)
    cfg = _cfg(tmp_path, model="ag-hbn", epochs=3)  # 2 joint + 1 post
    run = train(cfg, synthetic, **quiet)
    longer = dataclasses.replace(cfg, post_epochs=2, epochs=4, post_lr=1e-5)
    forked = fork_for(longer, run, log=lambda *_: None)
    assert runs.load_config(forked).epochs == 4 and runs.load_config(forked).post_lr == 1e-5
    train(runs.load_config(forked), synthetic, resume=True, **quiet)
    phases = [m["phase"] for m in runs.read_metrics(forked)]
    assert phases == ["joint", "joint", "post", "post"]
    with pytest.raises(ValueError, match="keeps the joint phase; set --epochs 4"):
        fork_for(dataclasses.replace(cfg, post_epochs=2), run)  # 1 joint + 2 post: another joint phase
    with pytest.raises(ValueError, match="differs in lr"):
        fork_for(dataclasses.replace(cfg, lr=0.5, post_lr=1e-5), run)
    with pytest.raises(ValueError, match="itself"):
        fork_for(cfg, run)


def test_the_fast_path_validates_each_epoch_in_bf16_with_the_fp32_answers(synthetic):
    from hbn.models import create_model
    from hbn.train import validate
    torch.manual_seed(0)
    model = create_model("gran-hbn", num_fine=synthetic.hierarchy.num_fine,
                         num_coarse=synthetic.hierarchy.num_coarse, in_channels=3, width=0.25)
    dtypes = []
    model.exits["0"].register_forward_hook(lambda m, i, out: dtypes.append(out["fine"].dtype))
    split = synthetic.val.take(torch.arange(64))
    fp32 = validate(model, split, synthetic, 32)
    bf16 = validate(model, split, synthetic, 32, autocast=True)
    assert dtypes == [torch.float32] * 2 + [torch.bfloat16] * 2
    assert fp32.keys() == bf16.keys() and all(abs(fp32[k] - bf16[k]) <= 0.05 for k in fp32)


def test_subnormals_are_flushed_in_every_worker_thread_not_only_the_callers():
    """torch.set_flush_denormal sets the calling thread's flag only; the OpenMP workers, created
    earlier, keep theirs and still compute half of a 2-thread op on subnormals (slowly)."""
    from hbn.device import flush_subnormals
    if torch.get_num_threads() < 2:
        pytest.skip("one thread: no worker to reach")
    torch.randn(512, 512) @ torch.randn(512, 512)  # the worker threads exist
    try:
        flush_subnormals(False)  # (earlier trainings in this process flushed)
        x = torch.full((1 << 20,), 1e-39)  # subnormal in fp32; times 1 it is 0 only when flushed
        assert not bool((x * 1.0 == 0).any())
        torch.set_flush_denormal(True)  # this thread only
        assert 0 < int((x * 1.0 == 0).sum()) < x.numel()  # the workers' share is not flushed
        assert flush_subnormals().startswith("flushed to zero (all")
        assert bool((x * 1.0 == 0).all())
    finally:
        flush_subnormals(False)
    assert not bool((x * 1.0 == 0).any())


def test_channels_last_on_the_cpu_fast_path_only():
    from hbn.device import channels_last
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert channels_last(make_config("smoke"), cpu)  # bf16 or fp32: both measured faster
    assert not channels_last(make_config("smoke", fast=False), cpu)  # "ours fp32" stays as it was
    assert not channels_last(make_config("smoke"), gpu)
