"""Tiny ImageNet 100/20 loading, measured: decoding cold and from the cache, the split sizes, the
training split's per-channel statistics, and the errors a user sees for a missing archive, a
corrupt (truncated) archive and an archive that lacks a class. Prints, and writes JSON.

    .venv/bin/python benchmarks/data_loading.py [--data data] [--out benchmarks/results/...]

Works on copies in a temporary folder: the source archive and its cache are never touched.
The broken archives are made from the real one (a truncated copy; a copy without one class).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import torch

from hbn import hierarchy as hier
from hbn import tinyimagenet as tin
from hbn.data import DataCorrupt, DataUnavailable, load_tiny_imagenet


def _timed_load(root: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    ds = load_tiny_imagenet(root, download=False)
    return time.perf_counter() - t0, ds


def _error(root: Path) -> str:
    """The error text a load of `root` raises (the point of the check: it must raise)."""
    try:
        load_tiny_imagenet(root, download=False)
    except (DataUnavailable, DataCorrupt) as e:
        return f"{type(e).__name__}: {e}"
    raise SystemExit(f"loading {root} did not fail")


def _without_class(src: Path, dst: Path, wnid: str) -> None:
    """A copy of the zip `src` without `wnid`'s training images (every other member kept)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if f"/train/{wnid}/" not in info.filename:
                zout.writestr(info, zin.read(info))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="data", help="the folder that holds the archive")
    p.add_argument("--out", default="benchmarks/results/data_loading-tiny-imagenet-100.json")
    args = p.parse_args()
    source = Path(tin.find_source(Path(args.data), download=False)).resolve()
    print(f"source: {source} ({source.stat().st_size / 2**20:.1f} MiB)")
    out: dict = {"source": source.name, "torch_threads": torch.get_num_threads(),
                 "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ok").mkdir()
        os.symlink(source, tmp / "ok" / source.name)
        out["cold_s"], ds = _timed_load(tmp / "ok")
        out["cached_s"], _ = _timed_load(tmp / "ok")
        out["cache_mib"] = round(sum(f.stat().st_size for f in (tmp / "ok").glob("*.pt")) / 2**20, 1)
        out["splits"] = {"train": len(ds.train), "validation": len(ds.val), "test": len(ds.test)}
        out["classes"] = {"fine": ds.hierarchy.num_fine, "coarse": ds.hierarchy.num_coarse}
        out["train_mean"] = [round(m, 4) for m in ds.mean]
        out["train_std"] = [round(s, 4) for s in ds.std]
        print(f"cold load (decode + cache): {out['cold_s']:.1f} s; cached: {out['cached_s']:.2f} s "
              f"({out['cold_s'] / out['cached_s']:.0f}x); cache {out['cache_mib']} MiB")
        print(f"splits: {out['splits']}; classes: {out['classes']}")
        print(f"training split per-channel mean {out['train_mean']}, std {out['train_std']}")

        errors = {}
        (tmp / "missing").mkdir()
        errors["missing archive"] = _error(tmp / "missing")
        if source.is_file():
            (tmp / "corrupt").mkdir()
            data = source.read_bytes()
            (tmp / "corrupt" / source.name).write_bytes(data[: len(data) // 2])
            errors["corrupt archive (truncated to half)"] = _error(tmp / "corrupt")
            (tmp / "lacks").mkdir()
            wnid = hier.TINY_IMAGENET_WNIDS[17]
            _without_class(source, tmp / "lacks" / source.name, wnid)
            errors[f"archive without class {wnid}'s training images"] = _error(tmp / "lacks")
            for where in ("corrupt", "lacks"):  # a failed check writes nothing
                assert not list((tmp / where).glob("*.pt")), f"a failed load wrote a cache in {where}"
        out["errors"] = errors
        for what, text in errors.items():
            print(f"\n{what}:\n  {text}")
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
