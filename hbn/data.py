"""Datasets as uint8 tensors on the training device, with on-device augmentation.

Registry: `cifar100` (the paper's data, official python pickles: fine AND coarse labels),
`fashion-mnist` (official idx files, DESIGN.md §1 hierarchy, padded to 32x32),
`tiny-imagenet-100` (Tiny ImageNet 100/20, CIFAR-100-shaped: hbn.tinyimagenet) and `synthetic`
(a procedural two-level set for tests). Train/validation split with a fixed seed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import hierarchy as hier
from .errors import DataCorrupt, DataUnavailable

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_ARCHIVE = ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
# md5 of each extracted pickle (the same values torchvision checks).
CIFAR100_FILES = {
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    "meta": "7973b15100ade9c7d40fb424638fde48",
}
# md5 of the *decompressed* idx files: Debian re-gzips them, so the .gz checksums differ.
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLIT_SEED = 20240229  # fixed: every model and seed sees the same train/validation split
# What figures and tables call each dataset.
TITLES = {"cifar100": "CIFAR-100", "fashion-mnist": "Fashion-MNIST",
          "tiny-imagenet-100": "Tiny ImageNet 100/20",
          "synthetic": "synthetic (procedural, not real data)"}


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, C, 32, 32) uint8
    fine: torch.Tensor  # (N,) int64
    coarse: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.fine)

    def to(self, device) -> "Split":
        return Split(self.images.to(device), self.fine.to(device), self.coarse.to(device))

    def take(self, idx: torch.Tensor) -> "Split":
        return Split(self.images[idx], self.fine[idx], self.coarse[idx])


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str  # what figures and tables call it
    hierarchy: hier.Hierarchy
    train: Split
    val: Split
    test: Split
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]

    def to(self, device) -> "Dataset":
        return replace(self, train=self.train.to(device), val=self.val.to(device),
                       test=self.test.to(device))


def default_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return Path(data_dir or os.environ.get("HBN_DATA") or "data")


def md5_of(path: Path, decompress: bool = False) -> str:
    opener = gzip.open if decompress else open
    digest = hashlib.md5()
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check(path: Path, expected: str, decompress: bool = False, fix: str = "") -> None:
    try:
        actual = md5_of(path, decompress)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataCorrupt(f"{path} is truncated or not a valid file ({e}); delete it. {fix}") from e
    if actual != expected:
        raise DataCorrupt(f"{path} failed its checksum (md5 {actual}, expected {expected}): the "
                          f"file is corrupt or truncated and was not loaded; delete it. {fix}")


def _split_train(images, fine, coarse, n_val: int) -> tuple[Split, Split]:
    order = torch.randperm(len(fine), generator=torch.Generator().manual_seed(SPLIT_SEED))
    full = Split(images, fine, coarse)
    return full.take(order[n_val:]), full.take(order[:n_val])


# --- CIFAR-100 ---------------------------------------------------------------------------

def _cifar_unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as e:  # truncated pickles raise EOFError / UnpicklingError
        raise DataCorrupt(f"{path} could not be read as a CIFAR-100 pickle ({e}); delete it") from e


def cifar100_files(root: Path, download: bool) -> Path:
    """The folder holding the extracted pickles, extracting or downloading the archive."""
    folder = root / "cifar-100-python"
    archive = root / CIFAR100_ARCHIVE[0]
    fix = f"Put the official {CIFAR100_ARCHIVE[0]} in {root}/ or re-run with download."
    if not all((folder / f).exists() for f in CIFAR100_FILES):
        if not archive.exists() and download:
            from torchvision.datasets.utils import download_url
            try:
                download_url(CIFAR100_URL, str(root), CIFAR100_ARCHIVE[0], CIFAR100_ARCHIVE[1])
            except Exception as e:  # no network: say what to do instead
                archive.unlink(missing_ok=True)
                raise DataUnavailable(_cifar_missing(root, f"download failed: {e}")) from e
        if not archive.exists():
            raise DataUnavailable(_cifar_missing(root, "no files found"))
        _check(archive, CIFAR100_ARCHIVE[1], fix=fix)
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    for name, md5 in CIFAR100_FILES.items():
        _check(folder / name, md5, fix=fix)
    return folder


def _cifar_missing(root: Path, why: str) -> str:
    return (f"CIFAR-100 is not available ({why}). Place {CIFAR100_ARCHIVE[0]} (md5 "
            f"{CIFAR100_ARCHIVE[1]}, from {CIFAR100_URL}) or its extracted cifar-100-python/ "
            f"folder in {root.resolve()}/ (set --data-dir or HBN_DATA), or use "
            f"--dataset fashion-mnist, which this machine can install "
            f"(apt-get install dataset-fashion-mnist).")


def load_cifar100(root: Path, download: bool = True) -> Dataset:
    folder = cifar100_files(root, download)
    meta = _cifar_unpickle(folder / "meta")
    hierarchy = hier.Hierarchy(tuple(meta["fine_label_names"]), tuple(meta["coarse_label_names"]),
                               hier.CIFAR100_FINE_TO_COARSE)
    splits = {}
    for name in ("train", "test"):
        d = _cifar_unpickle(folder / name)
        images = torch.from_numpy(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        fine = torch.as_tensor(d["fine_labels"], dtype=torch.long)
        coarse = torch.as_tensor(d["coarse_labels"], dtype=torch.long)
        if not torch.equal(hierarchy.fine_to_coarse()[fine], coarse):
            raise DataCorrupt(f"{folder / name}: coarse labels disagree with the standard mapping")
        splits[name] = (images, fine, coarse)
    n_val = len(splits["train"][1]) // 10  # 45,000 / 5,000 on the real files
    train, val = _split_train(*splits["train"], n_val=n_val)
    return Dataset("cifar100", TITLES["cifar100"], hierarchy, train, val, Split(*splits["test"]),
                   mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


# --- Fashion-MNIST -----------------------------------------------------------------------

def fashion_mnist_dir(root: Path, download: bool) -> Path:
    candidates = [root / "fashion-mnist", root, root / "FashionMNIST" / "raw",
                  FASHION_MNIST_SYSTEM_DIR]
    for d in candidates:
        if all((d / f).exists() for f in FASHION_MNIST_FILES):
            return d
    if download:
        try:
            from torchvision.datasets import FashionMNIST
            FashionMNIST(str(root), train=True, download=True)
            return root / "FashionMNIST" / "raw"
        except Exception as e:
            why = f"download failed: {e}"
    else:
        why = "download disabled"
    raise DataUnavailable(
        f"Fashion-MNIST is not available ({why}). Looked in: "
        f"{', '.join(str(c) for c in candidates)}. Fix: `sudo apt-get install "
        f"dataset-fashion-mnist` (Debian/Ubuntu), or put the four official *-ubyte.gz files in "
        f"{(root / 'fashion-mnist').resolve()}/.")


def _read_idx(path: Path, expected_md5: str) -> np.ndarray:
    _check(path, expected_md5, decompress=True)
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(*dims)


def load_fashion_mnist(root: Path, download: bool = True) -> Dataset:
    folder = fashion_mnist_dir(root, download)
    h = hier.FASHION_MNIST
    lookup = h.fine_to_coarse()
    splits = {}
    for prefix in ("train", "t10k"):
        images = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                           FASHION_MNIST_FILES[f"{prefix}-images-idx3-ubyte.gz"])
        labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz",
                           FASHION_MNIST_FILES[f"{prefix}-labels-idx1-ubyte.gz"])
        x = F.pad(torch.from_numpy(images.copy()), (2, 2, 2, 2)).unsqueeze(1)  # (N,1,32,32)
        y = torch.from_numpy(labels.astype(np.int64))
        splits[prefix] = (x, y, lookup[y])
    train, val = _split_train(*splits["train"], n_val=5000)  # 55,000 / 5,000
    mean, std = _stats(train.images)
    return Dataset("fashion-mnist", TITLES["fashion-mnist"], h, train, val, Split(*splits["t10k"]),
                   mean=mean, std=std)


# --- Tiny ImageNet 100/20 (hbn.tinyimagenet) ---------------------------------------------

def load_tiny_imagenet(root: Path, download: bool = True, per_class=None) -> Dataset:
    from . import tinyimagenet as tin
    h = hier.TINY_IMAGENET
    lookup = h.fine_to_coarse()

    def split(a):
        return _split_train(a["train_images"], a["train_fine"], lookup[a["train_fine"]],
                            n_val=len(a["train_fine"]) // 10)  # 45,000 / 5,000

    def stats(a):  # the training split's own statistics (DESIGN.md §1), cached: 5 s each time
        return torch.tensor(_stats(split(a)[0].images), dtype=torch.float64)

    a = tin.load_arrays(root, download, per_class or tin.PER_CLASS, derive={"train_stats": stats})
    train, val = split(a)
    mean, std = (tuple(row) for row in a["train_stats"].tolist())
    test = Split(a["test_images"], a["test_fine"], lookup[a["test_fine"]])
    return Dataset("tiny-imagenet-100", TITLES["tiny-imagenet-100"], h, train, val, test, mean, std)


# --- synthetic ---------------------------------------------------------------------------

def load_synthetic(n_train: int = 1800, n_val: int = 360, n_test: int = 720,
                   seed: int = 0) -> Dataset:
    """SYNTHETIC images: coarse class = pattern family, fine class = its spatial frequency.

    4 coarse x 3 fine classes, 3x32x32, Gaussian noise: coarse is easier than fine, as in
    real hierarchies. Procedural and deterministic; not a benchmark of anything.
    """
    h = hier.synthetic(4, 3)
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val + n_test
    fine = torch.randint(0, h.num_fine, (n,), generator=g)
    coarse = h.fine_to_coarse()[fine]
    freq = 0.45 + 0.12 * (fine % 3).float() + 0.05 * torch.randn(n, generator=g)
    phase = 2 * torch.pi * torch.rand(n, 2, generator=g)
    yy, xx = torch.meshgrid(torch.arange(32.0) - 15.5, torch.arange(32.0) - 15.5, indexing="ij")
    f, p0, p1 = freq[:, None, None], phase[:, 0, None, None], phase[:, 1, None, None]
    # Coarse pattern families that survive crops and horizontal flips.
    patterns = torch.stack([
        torch.sin(f * yy + p0),  # horizontal stripes
        torch.sin(f * xx + p0),  # vertical stripes
        torch.sin(f * xx + p0) * torch.sin(f * yy + p1),  # checkerboard
        torch.sin(f * (xx ** 2 + yy ** 2).sqrt() + p0),  # rings
    ], 1)  # (n, 4, 32, 32)
    wave = patterns[torch.arange(n), coarse]
    img = 0.5 + 0.3 * wave[:, None].expand(n, 3, 32, 32)
    img = img + 0.3 * torch.randn(img.shape, generator=g)
    images = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    parts = Split(images, fine, coarse)
    train = parts.take(torch.arange(0, n_train))
    val = parts.take(torch.arange(n_train, n_train + n_val))
    test = parts.take(torch.arange(n_train + n_val, n))
    mean, std = _stats(train.images)
    return Dataset("synthetic", TITLES["synthetic"], h, train, val, test,
                   mean=mean, std=std)


def _stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images.float() / 255
    return tuple(x.mean((0, 2, 3)).tolist()), tuple(x.std((0, 2, 3)).tolist())


LOADERS = {"cifar100": load_cifar100, "fashion-mnist": load_fashion_mnist,
           "tiny-imagenet-100": load_tiny_imagenet}


def load_dataset(name: str, data_dir=None, download: bool = True) -> Dataset:
    """Load a registered dataset on the CPU (move it with `.to(device)`)."""
    if name == "synthetic":
        return load_synthetic()
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join([*LOADERS, 'synthetic'])}")
    root = default_data_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    return LOADERS[name](root, download)


FALLBACK_BANNER = """
########################################################################################
#  CIFAR-100 IS NOT AVAILABLE ON THIS MACHINE -- FALLING BACK TO FASHION-MNIST.        #
#  Every result below is computed on Fashion-MNIST (10 fine / 6 coarse classes),       #
#  NOT on the paper's CIFAR-100. Reason: {reason:<44.44}#
########################################################################################
"""


def resolve_dataset(name: str, data_dir=None, download: bool = True, fallback: bool = False,
                    log=print) -> str:
    """The dataset to use: `name`, or Fashion-MNIST (loudly) when CIFAR-100 cannot be had."""
    if name != "cifar100":
        return name
    try:
        cifar100_files(default_data_dir(data_dir), download)
        return name
    except DataUnavailable as e:
        if not fallback:
            raise
        log(FALLBACK_BANNER.format(reason=str(e).split("(")[1].split(")")[0][:44]))
        return "fashion-mnist"
