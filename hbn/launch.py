"""A study as jobs: one submitit job per run (`python -m hbn train-all`), local processes on one
machine or Slurm on a cluster, and where each run stands (`python -m hbn status`).

Every job is `train --resume` followed by the test records (hbn.train.train_or_reuse): a
finished run is skipped, a run whose folder lock is held is reported and not started twice, so
re-submitting after a crash, a reboot or a pre-empted job finishes what is missing and nothing
else. Job logs and each job's outcome (`<run>.json`, plain JSON: submitit's result pickles are
never read) go to `<out_dir>/.jobs/<dataset>/<profile>/`.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from . import runs
from .config import RunConfig, make_config
from .lock import LOCK_FILE, parse_holder
from .paths import ROOT


def expected(profile: str, dataset: str, pairs, out_dir: str, **overrides) -> list[RunConfig]:
    """The runs of a study, one per (model, seed) of `pairs`, with `overrides` of the profile."""
    return [make_config(profile, **overrides, model=m, seed=s, dataset=dataset, out_dir=out_dir)
            for m, s in pairs]


def jobs_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / ".jobs" / cfg.dataset / runs.profile_dir(cfg)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state(cfg: RunConfig) -> dict:
    """{"state", "detail", "command"}: finished, running (PID, epoch N of M, images/s),
    interrupted at epoch N, failed (the job's last error line), committed (finished in the
    repository's runs/ though not in `cfg.out_dir`) or missing."""
    from .reuse import finished
    run = runs.run_dir(cfg)
    command = runs.train_command(cfg)
    metrics = runs.read_metrics(run) if run.exists() else []
    epoch = metrics[-1]["epoch"] if metrics else 0
    speed = f", {metrics[-1]['img_per_s']:.0f} img/s" if metrics and "img_per_s" in metrics[-1] else ""
    if finished(cfg):
        secs = sum(m.get("train_s", 0) for m in metrics)
        return {"state": "finished", "detail": f"{epoch} epochs, {secs / 60:.0f} min of training",
                "command": ""}
    lock = run / LOCK_FILE
    if lock.exists():
        holder = parse_holder(lock.read_text(errors="replace"))
        pid = int(holder.get("pid", "0") or 0)
        if pid and _alive(pid):
            return {"state": "running", "detail": f"PID {pid}, epoch {epoch} of {cfg.epochs}{speed}",
                    "command": ""}
    outcome = jobs_dir(cfg) / f"{cfg.run_name}.json"
    if outcome.exists():
        job = runs.read_json(outcome, "delete it (it only records the last job's outcome)")
        if job.get("state") == "failed":
            return {"state": "failed", "detail": f"job {job.get('job_id', '?')}: {job.get('error', '?')}",
                    "command": command}
    if (run / "checkpoint.pt").exists():
        return {"state": "interrupted", "detail": f"at epoch {epoch} of {cfg.epochs}",
                "command": command}
    home = committed(cfg)
    if home is not None:
        return {"state": "committed", "detail": f"finished in {home.relative_to(ROOT)}, none here",
                "command": ""}
    return {"state": "missing", "detail": "", "command": runs.train_command(cfg, resume=False)}


def committed(cfg: RunConfig) -> Path | None:
    """The repository's own finished copy of `cfg`'s run (in runs/), when `cfg` trains in another
    out-dir: a study trained outside the work tree comes back run by run, so the runs already
    committed are done, not missing (`hbn train` with that out-dir still reproduces one)."""
    from .reuse import finished
    home = replace(cfg, out_dir=str(ROOT / "runs"))
    if Path(cfg.out_dir).resolve() == Path(home.out_dir).resolve() or not finished(home):
        return None
    return runs.run_dir(home)


def status_table(cfgs) -> str:
    rows = [(c.model, str(c.seed), *state(c).values()) for c in cfgs]
    head = ("model", "seed", "state", "detail", "resume with")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  " + head[4]]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[4] for r in rows]
    return "\n".join(lines)


def job(cfg_dict: dict, threads: int) -> str:
    """What one job runs (in its own process): the run, resumed, then its test records."""
    import torch
    from .data import load_dataset
    from .train import train_or_reuse
    torch.set_num_threads(threads)
    cfg = RunConfig.from_dict(cfg_dict)
    outcome = jobs_dir(cfg) / f"{cfg.run_name}.json"
    info = {"job_id": os.environ.get("SUBMITIT_JOB_ID") or os.environ.get("SLURM_JOB_ID", "?"),
            "pid": os.getpid(), "threads": threads}
    try:
        train_or_reuse(cfg, load_dataset(cfg.dataset, cfg.data_dir or None), progress=False)
    except Exception as e:
        runs.write_json(outcome, {**info, "state": "failed", "error": f"{type(e).__name__}: {e}"[:500]})
        raise
    runs.write_json(outcome, {**info, "state": "finished"})
    return str(runs.run_dir(cfg))


def slurm_parameters(threads: int, slurm: dict | None = None, jobs: int = 0) -> dict:
    """submitit's SlurmExecutor parameters from the cluster options (`--slurm-*`): partition,
    gpus, time in minutes, cpus, mem in GB, account, qos; `jobs` > 0 caps the array's parallelism."""
    s = dict(slurm or {})
    params = {"time": int(s.get("time", 24 * 60)), "cpus_per_task": int(s.get("cpus", threads)),
              "gpus_per_node": int(s.get("gpus", 1)), "ntasks_per_node": 1, "nodes": 1,
              "signal_delay_s": 120}  # time to finish the epoch's checkpoint when pre-empted
    if s.get("partition"):
        params["partition"] = s["partition"]
    if s.get("mem"):
        params["mem"] = f"{int(s['mem'])}GB"
    params.update({k: s[k] for k in ("account", "qos") if s.get(k)})
    if jobs:
        params["array_parallelism"] = jobs
    return params


def executor(launcher: str, folder: Path, threads: int, slurm: dict | None = None, jobs: int = 0):
    """The submitit executor: local processes, or Slurm with `slurm_parameters`."""
    import submitit
    if launcher == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=7 * 24 * 60)  # a run checkpoints every epoch: no limit
        return ex
    if launcher != "slurm":
        raise ValueError(f"unknown launcher {launcher!r}; choose local or slurm")
    try:
        ex = submitit.SlurmExecutor(folder=str(folder))
    except RuntimeError as e:  # no srun on this machine
        raise RuntimeError(f"--launcher slurm needs a Slurm cluster ({e}); on one machine use "
                           f"--launcher local") from e
    ex.update_parameters(**slurm_parameters(threads, slurm, jobs))
    return ex


def train_all(cfgs, launcher: str = "local", jobs: int = 1, threads: int | None = None,
              slurm: dict | None = None, poll_s: float = 10.0, log=print) -> int:
    """Submit one job per run that is neither finished, committed nor running; locally at most `jobs` at
    once (waits for them all), on Slurm all at once (returns once submitted). Returns the
    number of failed local jobs."""
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, jobs))
    todo = []
    for cfg in cfgs:
        st = state(cfg)
        if st["state"] in ("finished", "running", "committed"):
            log(f"{cfg.model} seed {cfg.seed}: {st['state']} ({st['detail']}); not submitted")
        else:
            todo.append(cfg)
    if not todo:
        log("nothing to train: every run is finished, committed or running")
        return 0
    folder = jobs_dir(todo[0])
    folder.mkdir(parents=True, exist_ok=True)
    ex = executor(launcher, folder / "%j", threads, slurm, jobs)
    if launcher == "slurm":
        with ex.batch():
            submitted = [ex.submit(job, c.to_dict(), threads) for c in todo]
        for c, j in zip(todo, submitted):
            log(f"{c.model} seed {c.seed}: Slurm job {j.job_id}")
        return 0
    waiting, active, failed = list(todo), [], 0
    while waiting or active:
        while waiting and len(active) < jobs:
            c = waiting.pop(0)
            active.append((c, ex.submit(job, c.to_dict(), threads)))
            log(f"{c.model} seed {c.seed}: started as local job {active[-1][1].job_id} "
                f"({threads} thread{'s' * (threads > 1)}) -> {runs.run_dir(c)}")
        time.sleep(poll_s)
        for c, j in [a for a in active if a[1].done()]:
            active.remove((c, j))
            st = state(c)
            failed += st["state"] != "finished"
            log(f"{c.model} seed {c.seed}: {st['state']} {st['detail']}")
    return failed

