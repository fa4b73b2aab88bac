"""Command line: `python -m hbn {models,train,train-all,evaluate,book}`."""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

from .config import DATASETS, MODELS, PROFILES, PUBLISHED, RunConfig, make_config

# Authors' per-exit FLOPs (thop, batch 1, CIFAR-100; DESIGN.md §2), in MFLOPs.
REFERENCE_MFLOPS = {"alexnet": [96.45], "b-alexnet": [31.70, 75.63, 135.81],
                    "gran-hbn": [31.78, 75.79, 136.05]}


def cmd_models(args) -> int:
    from .cost import exit_flops
    from .models import MODEL_TITLES, count_parameters, create_model
    print(f"CIFAR-100 shapes (3x32x32 input, 100 fine / 20 coarse), width {args.width}")
    print(f"{'model':<12} {'params':>11}  {'MFLOPs per exit (ours)':<28} {'authors (DESIGN.md §2)':<24}")
    for name in MODELS:
        m = create_model(name, width=args.width)
        flops = [f / 1e6 for f in exit_flops(m)]
        ref = REFERENCE_MFLOPS.get(name)
        print(f"{MODEL_TITLES[name]:<12} {count_parameters(m):>11,}  "
              f"{' / '.join(f'{f:.2f}' for f in flops):<28} "
              f"{' / '.join(f'{f:.2f}' for f in ref) if ref else '-':<24}")
    return 0


# RunConfig fields the CLI sets itself (positionally, or from the profile and the data found).
_OWN_FLAGS = ("model", "dataset", "profile")


def _run_fields():
    return [f for f in dataclasses.fields(RunConfig) if f.name not in _OWN_FLAGS]


def _config_from(args, model: str, dataset: str):
    """The profile's settings, with every RunConfig flag the user gave on top."""
    given = {f.name: getattr(args, f.name) for f in _run_fields() if getattr(args, f.name) is not None}
    if "exit_weights" in given:
        given["exit_weights"] = tuple(given["exit_weights"])
    return make_config(args.profile, model=model, dataset=dataset, **given)


def _dataset(args) -> str:
    from .data import resolve_dataset
    name = args.dataset or PROFILES[args.profile]["dataset"]
    # Only the profile's default (never an explicit --dataset cifar100) falls back.
    return resolve_dataset(name, args.data_dir, fallback=args.dataset is None)


def cmd_train(args) -> int:
    from .evaluate import accuracy_table, evaluate
    from .records import load_records as stored_records
    from .runs import finished_folder
    from .train import train
    cfg = _config_from(args, args.model, "synthetic")  # validate names/values before any work
    cfg = _config_from(args, args.model, _dataset(args))
    t0 = time.time()
    resume = args.resume
    if args.fork_from:
        from .reuse import fork_for
        from .runs import load_config, run_dir
        cfg = dataclasses.replace(cfg, out_dir=load_config(args.fork_from).out_dir)
        if not (run_dir(cfg) / "config.json").exists():
            fork_for(cfg, args.fork_from)
        resume = True
    run = train(cfg, resume=resume, progress=not args.no_progress, retrain=args.retrain)
    df = stored_records(run) if finished_folder(run) else evaluate(run, device=cfg.device)
    print(f"\n{cfg.model} on {cfg.dataset} ({cfg.profile} profile{', SHORTENED' if cfg.shortened else ''}), "
          f"wall {time.time() - t0:.0f} s; test accuracy:\n{accuracy_table(df).round(4).to_string()}")
    return 0


def _study(args, models) -> list:
    """The runs `train-all` and `status` mean: --seeds for every model, else the manifest's study."""
    from .book import study_runs
    from .launch import expected
    dataset = _dataset(args)
    given = {f.name: getattr(args, f.name) for f in _run_fields()
             if getattr(args, f.name, None) is not None and f.name not in ("seed", "out_dir")}
    pairs = study_runs(args.profile, models, args.seeds)
    return expected(args.profile, dataset, pairs, args.out_dir or "runs", **given)


def cmd_train_all(args) -> int:
    """One job per run (hbn.launch): local processes, at most --jobs at once, or Slurm."""
    import torch
    from .launch import status_table, train_all
    models = args.models or list(MODELS)
    for m in models:
        _config_from(args, m, "synthetic")  # fail fast on bad names/values
    cfgs = _study(args, models)
    gpu = torch.cuda.is_available() and (args.device or "auto") in ("auto", "cuda")
    # Default: one job at a time on a CPU, every run at once on one GPU, no cap on Slurm.
    jobs = args.jobs or (0 if args.launcher == "slurm" else len(cfgs) if gpu else 1)
    if args.retrain:
        from .runs import run_dir, set_aside
        for c in cfgs:
            set_aside(run_dir(c))
    slurm = {k[len("slurm_"):]: v for k, v in vars(args).items() if k.startswith("slurm_") and v}
    t0 = time.time()
    failed = train_all(cfgs, args.launcher, jobs, args.threads, slurm)
    print(f"train-all ({args.launcher}, {jobs} job(s) at once): {time.time() - t0:.0f} s\n"
          f"{status_table(cfgs)}")
    return 1 if failed else 0


def cmd_status(args) -> int:
    from .launch import status_table
    print(status_table(_study(args, args.models or list(MODELS))))
    return 0


def cmd_evaluate(args) -> int:
    """Records of a run: written once after training; a finished run's are shown (and checked
    against its weights where the folder has them), never rewritten."""
    from .evaluate import accuracy_table, evaluate
    from .records import load_records
    from .runs import finished_folder, load_config
    run = args.run_dir
    cfg = load_config(run)
    if finished_folder(run) and not (run / "model.pt").exists():
        df = load_records(run)
        note = ("from its stored records (its weights are not in the folder: they are never "
                "committed; nothing was re-computed or written)")
    else:
        df = evaluate(run, device=args.device)
        note = ("its stored records, checked against a fresh evaluation of model.pt (nothing was "
                "written)" if finished_folder(run) else "")
    print(f"{cfg.model} on {cfg.dataset} ({cfg.profile} profile); test accuracy"
          f"{', ' + note if note else ''}:")
    print(accuracy_table(df).round(4).to_string())
    return 0


def cmd_book(args) -> int:
    from .book import build
    sets = {}
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set expects name=value, got {item!r}")
        sets[name.strip()] = _yaml_value(text)
    return build(profile=args.profile, dataset=args.dataset, force=args.force,
                 data_dir=args.data_dir, skip_build=args.no_build, sets=sets,
                 references=args.update_references, retrain=args.retrain, runs_root=args.out_dir,
                 jobs=args.jobs)


def _yaml_value(text: str):
    """A --set value parsed as YAML: 64, 1e-3, [1, 2], {a: 1}, true, or a plain string."""
    import yaml
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"--set value {text!r} is not valid YAML ({e})") from e
    if isinstance(value, (int, float)) and ":" in text:  # YAML 1.1 reads 0:1:0.5 as base 60
        return text.strip()
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _add_run_options(p, model: bool = True):
    """One flag per RunConfig field, generated from the dataclass so the two cannot drift.
    A flag not given keeps the profile's value."""
    if model:
        p.add_argument("--model", choices=MODELS, default="gran-hbn")
    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="default: the profile's (cifar100, falling back loudly to fashion-mnist)")
    p.add_argument("--profile", choices=list(PROFILES), default="quick")
    for f in _run_fields():
        flag, kind = "--" + f.name.replace("_", "-"), str(f.type)
        help_ = f"default: the profile's, else {f.default!r}"
        if kind == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif kind.startswith("tuple"):
            p.add_argument(flag, type=_number, nargs="+", default=None, metavar="W", help=help_)
        else:
            conv = {"int": int, "float": _number, "float | None": _number}.get(kind, str)
            p.add_argument(flag, type=conv, default=None, help=help_)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint "
                   "(a finished run: nothing to do)")
    p.add_argument("--retrain", action="store_true", help="re-make a run from scratch; its old "
                   "folder is kept as <run>.previous")


def _add_study_options(p):
    p.add_argument("--models", nargs="+", choices=MODELS)
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="seeds of every model (default: the profile's study, notebooks/manifest.py)")


def _number(text: str) -> float:
    """A finite float (inf and nan are refused here, before any work starts)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


def _width(text: str) -> float:
    value = _number(text)
    if not 0 < value <= 64:
        raise argparse.ArgumentTypeError(f"{text!r}: the width must be > 0 and <= 64")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m hbn", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="parameters and per-exit FLOPs of the five models")
    p.add_argument("--width", type=_width, default=1.0, help="channel multiplier (0, 64]")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("train", help="train one model, then evaluate it on the test set")
    _add_run_options(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--fork-from", metavar="RUN_DIR", default=None,
                   help="AG-HBN: start from RUN_DIR's checkpoint at the end of joint training "
                   "(a variant that differs only in post-training settings; its folder lies "
                   "beside RUN_DIR's)")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("train-all", help="train a study as jobs: local processes or Slurm (submitit)")
    _add_run_options(p, model=False)
    _add_study_options(p)
    p.add_argument("--launcher", choices=("local", "slurm"), default="local")
    p.add_argument("--jobs", type=int, default=0, help="local jobs at once (default: 1 on a CPU, "
                   "all on one GPU); on Slurm the array's parallelism (default: no cap)")
    p.add_argument("--threads", type=int, default=0, help="threads per job (default: cores / jobs)")
    for name, help_ in (("partition", "Slurm partition"), ("gpus", "GPUs per job"),
                        ("time", "time limit per job, minutes"), ("cpus", "CPUs per job"),
                        ("mem", "memory per job, GB"), ("account", "Slurm account"),
                        ("qos", "Slurm QOS")):
        p.add_argument(f"--slurm-{name}", default=None, help=help_)
    p.set_defaults(func=cmd_train_all)
    p = sub.add_parser("status", help="where each run of a study stands, and how to resume it")
    _add_run_options(p, model=False)  # the same flags as train-all name the same runs
    _add_study_options(p)
    p.set_defaults(func=cmd_status, profile=PUBLISHED)
    p = sub.add_parser("evaluate", help="test-set exit records + accuracy of a run directory")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("book", help="execute the notebooks (papermill) and build the book")
    p.add_argument("--profile", choices=list(PROFILES), default=PUBLISHED,
                   help=f"default: {PUBLISHED}, the published book")
    p.add_argument("--dataset", choices=DATASETS, default=None)
    p.add_argument("--data-dir", default=os.environ.get("HBN_DATA", ""))
    p.add_argument("--force", action="store_true", help="re-execute up-to-date notebooks too "
                   "(finished runs are reused: a code change never retrains by itself)")
    p.add_argument("--retrain", action="store_true", help="retrain every run from scratch (the "
                   "old run folders are kept as <run>.previous until replaced) and re-execute all")
    p.add_argument("--no-build", action="store_true", help="execute notebooks only")
    p.add_argument("--jobs", type=_positive_int, default=min(4, os.cpu_count() or 1),
                   help="pages executed at once once their runs exist (trainings run one at a "
                        "time); default: the cores, at most 4")
    p.add_argument("--out-dir", default="", help="where run folders live (default: runs/)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (repeatable; YAML values, e.g. lr=1e-3, "
                        "seeds=[1,2], decision_batch=64): the run goes into a variant folder")
    p.add_argument("--update-references", action="store_true",
                   help="smoke profile: re-execute the committed nbval copies in notebooks/smoke")
    p.set_defaults(func=cmd_book)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # full disk, permissions, ...: one line naming the file and the fix
        import errno
        if e.filename is None:  # ours (hbn.runs.write_error etc.) already say file and fix
            print(f"error: {e}", file=sys.stderr)
        elif isinstance(e, PermissionError) or e.errno == errno.EROFS:
            print(f"error: cannot write or read {e.filename} ({e.strerror}); make it writable and "
                  f"readable for you (e.g. `chmod u+rw`) or choose another --out-dir / --data-dir",
                  file=sys.stderr)
        else:
            print(f"error: {e.strerror or e} on {e.filename}; check that path and the disk, "
                  f"then run the command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: completed epochs are checkpointed; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
