"""A study as jobs (hbn.launch, issue 21): submitit's local executor on the smoke profile; the
Slurm path checked on the executor's configuration only (no cluster here)."""
import os
import signal
import time

import pytest
import torch

from hbn import launch, runs
from hbn.cli import main
from hbn.config import make_config
from hbn.train import train
from hbn.paths import ROOT

EPOCHS = 2


def _study(out, pairs):
    return launch.expected("smoke", "synthetic", pairs, str(out), epochs=EPOCHS)


def _weights(cfg):
    return torch.load(runs.run_dir(cfg) / "model.pt", weights_only=True)["model"]


@pytest.mark.slow  # real processes, real training: `make test-slow`
def test_two_models_two_seeds_as_two_local_jobs_then_nothing_twice(tmp_path):
    cfgs = _study(tmp_path, [(m, s) for s in (0, 1) for m in ("alexnet", "gran-hbn")])
    lines = []
    assert launch.train_all(cfgs, "local", jobs=2, threads=1, poll_s=0.2, log=lines.append) == 0
    assert [launch.state(c)["state"] for c in cfgs] == ["finished"] * 4
    assert sum("started as local job" in ln for ln in lines) == 4
    assert all((runs.run_dir(c) / "records.csv.gz").exists() for c in cfgs)
    outcome = launch.jobs_dir(cfgs[0]) / "alexnet-s0.json"
    assert runs.read_json(outcome, "")["state"] == "finished"
    lines.clear()  # submitted again: every run is finished, so no job starts
    assert launch.train_all(cfgs, "local", jobs=2, threads=1, poll_s=0.2, log=lines.append) == 0
    assert lines[-1] == "nothing to train: every run is finished, committed or running"


@pytest.mark.slow  # real processes, real training: `make test-slow`
def test_a_killed_job_is_resubmitted_alone_and_ends_bit_identical(tmp_path):
    [cfg, other] = _study(tmp_path / "killed", [("gran-hbn", 0), ("alexnet", 0)])
    torch.set_num_threads(1)
    try:  # the reference: the same run, uninterrupted, one thread like the job
        ref = train(make_config("smoke", model="gran-hbn", epochs=EPOCHS,
                                out_dir=str(tmp_path / "ref")), progress=False, log=lambda *_: None)
        ref_weights = torch.load(ref / "model.pt", weights_only=True)["model"]
    finally:
        torch.set_num_threads(2)
    launch.train_all([other], "local", jobs=1, threads=1, poll_s=0.2, log=lambda *_: None)
    folder = launch.jobs_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    ex = launch.executor("local", folder / "%j", 1)
    job = ex.submit(launch.job, cfg.to_dict(), 1)
    run, deadline = runs.run_dir(cfg), time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline and not job.done():
        time.sleep(0.05)
    st = launch.state(cfg)
    assert st["state"] == "running" and f"of {EPOCHS}" in st["detail"]
    lines = []  # a second train-all while the first job runs: nothing is started twice
    launch.train_all([cfg], "local", jobs=1, threads=1, poll_s=0.2, log=lines.append)
    assert "gran-hbn seed 0: running" in lines[0] and "nothing to train" in lines[-1]
    pid = int(st["detail"].split()[1].rstrip(","))
    os.kill(pid, signal.SIGKILL)
    while not job.done():
        time.sleep(0.05)
    assert not (run / "model.pt").exists(), "the job finished before the kill; test invalid"
    st = launch.state(cfg)
    assert st["state"] == "interrupted" and st["command"].endswith("--resume")
    lines = []
    assert launch.train_all([cfg, other], "local", jobs=2, threads=1, poll_s=0.2,
                            log=lines.append) == 0
    assert sum("started as local job" in ln for ln in lines) == 1  # the killed run only
    assert "alexnet seed 0: finished" in lines[0]
    mine = _weights(cfg)
    assert all(torch.equal(mine[k], ref_weights[k]) for k in ref_weights)


def test_status_says_missing_and_failed_with_the_command_and_the_error(tmp_path, capsys):
    [cfg] = launch.expected("smoke", "cifar100", [("gran-hbn", 0)], str(tmp_path),
                            data_dir=str(tmp_path / "no-data"))
    assert launch.state(cfg)["state"] == "missing"
    assert launch.train_all([cfg], "local", jobs=1, threads=1, poll_s=0.2,
                            log=lambda *_: None) == 1
    st = launch.state(cfg)
    assert st["state"] == "failed" and "CIFAR-100 is not available" in st["detail"]
    assert main(["status", "--profile", "smoke", "--dataset", "synthetic", "--out-dir",
                 str(tmp_path), "--models", "alexnet", "--seeds", "6", "3"]) == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines()[1:]]  # (seeds no test trains)
    assert [(r[0], r[1], r[2]) for r in rows] == [("alexnet", "6", "missing"), ("alexnet", "3", "missing")]
    assert "python -m hbn train --model alexnet" in " ".join(rows[1]) and "--seed 3" in " ".join(rows[1])


def test_the_slurm_executor_gets_the_cluster_options(tmp_path):
    p = launch.slurm_parameters(8, {"partition": "gpu", "gpus": "1", "time": "600", "mem": "32",
                                    "account": "lab", "qos": "high"}, jobs=4)
    assert p == {"partition": "gpu", "gpus_per_node": 1, "time": 600, "cpus_per_task": 8,
                 "mem": "32GB", "ntasks_per_node": 1, "nodes": 1, "signal_delay_s": 120,
                 "account": "lab", "qos": "high", "array_parallelism": 4}
    import submitit  # the names are SlurmExecutor's own
    assert set(p) <= set(submitit.SlurmExecutor._valid_parameters())
    with pytest.raises(RuntimeError, match="--launcher slurm needs a Slurm cluster"):
        launch.executor("slurm", tmp_path / "%j", 8, {})  # no srun here
    with pytest.raises(ValueError, match="unknown launcher"):
        launch.executor("pbs", tmp_path, 1)


def test_a_run_committed_in_runs_is_not_missing_from_another_out_dir(tmp_path, capsys):
    # the committed Tiny ImageNet Gran-HBN seed 0 (records only, no weights), seen from an
    # out-dir outside the work tree where the rest of its study trains
    [cfg] = launch.expected("tiny", "tiny-imagenet-100", [("gran-hbn", 0)], str(tmp_path))
    st = launch.state(cfg)
    assert st == {"state": "committed", "command": "",
                  "detail": "finished in runs/tiny-imagenet-100/tiny/gran-hbn-s0, none here"}
    lines = []
    assert launch.train_all([cfg], "local", jobs=1, threads=1, poll_s=0.2, log=lines.append) == 0
    assert "gran-hbn seed 0: committed" in lines[0] and "nothing to train" in lines[-1]
    assert not (tmp_path / "tiny-imagenet-100").exists()  # nothing was started
    [home] = launch.expected("tiny", "tiny-imagenet-100", [("gran-hbn", 0)], str(ROOT / "runs"))
    assert launch.state(home)["state"] == "finished"  # in runs/ itself it is simply finished
    other = launch.expected("tiny", "tiny-imagenet-100", [("gran-hbn", 7)], str(tmp_path))[0]
    assert launch.state(other)["state"] == "missing"  # a seed never trained anywhere
