"""Tiny ImageNet 100/20 (DESIGN.md §1): 100 Tiny ImageNet classes in 20 superclasses of 5, shaped
like CIFAR-100. Images are decoded with PIL, made RGB and downsampled 64 -> 32 by 2x2 box
averaging (`Image.reduce(2)`, Chrabaszcz et al. 2017); train/validation = 45,000 / 5,000 of the
training images (the fixed split seed); test = the 5,000 official validation images.

Reads the official `tiny-imagenet-200.zip`, its extracted folder, or the 100-class subset zip.
Everything is checked before anything is written (every class with 500 train and 50 val
images, every image decodable and 64x64, the zip's CRCs); the decoded uint8 tensors are then
cached in the data folder under a digest of the source, so a later load takes about a second.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import hierarchy as hier
from .errors import DataCorrupt, DataUnavailable

URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
ARCHIVES = ("tiny-imagenet-200.zip", "tiny-imagenet-200-h100.zip")  # official, 100-class subset
FOLDER = "tiny-imagenet-200"
PER_CLASS = (500, 50)  # training and validation images of every class in the official archive
SIZE = 64  # pixels, before the 2x2 downsampling
CACHE_VERSION = 1  # bump when decoding changes: old caches are then ignored


class Source:
    """The files of one Tiny ImageNet copy (a zip or an extracted folder) by their archive path
    (`tiny-imagenet-200/train/...`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            self._zip, base = None, self.path.parent
            self.names = sorted(p.relative_to(base).as_posix() for p in self.path.rglob("*")
                                if p.is_file())
        else:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as e:
                raise _corrupt(self.path, f"not a readable zip archive ({e})") from e
            self.names = sorted(n for n in self._zip.namelist() if not n.endswith("/"))

    def read(self, name: str) -> bytes:
        """The bytes of `name`; a zip member whose CRC fails is an error naming it."""
        try:
            if self._zip is None:
                return (self.path.parent / name).read_bytes()
            return self._zip.read(name)
        except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
            raise _corrupt(self.path, f"{name} cannot be read ({e})") from e

    def digest(self) -> str:
        """sha256 of the zip's bytes, or of a folder's file names, sizes and times."""
        h = hashlib.sha256()
        if self._zip is None:
            for n in self.names:
                st = (self.path.parent / n).stat()
                h.update(f"{n}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        else:
            with open(self.path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def _corrupt(path: Path, what: str):
    return DataCorrupt(f"{path}: {what}. Nothing was loaded or cached. Fix: delete it and put an "
                       f"intact copy of {ARCHIVES[0]} (from {URL}) or its extracted {FOLDER}/ "
                       f"folder in its place (`scripts/get-tiny-imagenet.sh` on these machines)")


def find_source(root: Path, download: bool = True) -> Path:
    """The first copy found in `root`: the extracted folder, the official zip, the subset zip;
    else the official zip downloaded into `root` (when allowed and possible)."""
    candidates = [root / FOLDER, *(root / a for a in ARCHIVES)]
    for c in candidates:
        if (c / "wnids.txt").exists() if c.suffix != ".zip" else c.exists():
            return c
    why = "download disabled"
    if download:
        from torchvision.datasets.utils import download_url
        try:
            download_url(URL, str(root), ARCHIVES[0])
            return root / ARCHIVES[0]
        except Exception as e:  # no network: say where to put it instead
            (root / ARCHIVES[0]).unlink(missing_ok=True)
            why = f"download failed: {e}"
    raise DataUnavailable(
        f"Tiny ImageNet is not available ({why}). Looked for: {', '.join(str(c) for c in candidates)}. "
        f"Fix: put the official {ARCHIVES[0]} (from {URL}), its extracted {FOLDER}/ folder, or "
        f"the 100-class subset {ARCHIVES[1]} in {root.resolve()}/ (set --data-dir or HBN_DATA); "
        f"on these machines `scripts/get-tiny-imagenet.sh` links the subset from shared/data/")


def _decode(src: Source, name: str) -> np.ndarray:
    """One 64x64 JPEG as a (3, 32, 32) uint8 array: RGB, 2x2 box-averaged."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(src.read(name))) as im:
            im.load()
            if im.size != (SIZE, SIZE):
                raise _corrupt(src.path, f"{name} is {im.size[0]}x{im.size[1]}, not {SIZE}x{SIZE}")
            return np.asarray(im.convert("RGB").reduce(2)).transpose(2, 0, 1)
    except OSError as e:  # PIL's UnidentifiedImageError and truncated files
        raise _corrupt(src.path, f"{name} does not decode as an image ({e})") from e


def file_lists(src: Source, per_class=PER_CLASS) -> tuple[list, list]:
    """[(archive path, fine label)] of the training and of the validation images of the 100
    classes, in label order, after checking that every class has `per_class` of each."""
    label = {w: i for i, w in enumerate(hier.TINY_IMAGENET_WNIDS)}
    train = {w: [] for w in label}
    for n in src.names:
        parts = n.split("/")  # tiny-imagenet-200/train/<wnid>/images/<wnid>_<k>.JPEG
        if len(parts) == 5 and parts[1] == "train" and parts[2] in label and n.endswith(".JPEG"):
            train[parts[2]].append(n)
    names = set(src.names)
    ann_name = f"{FOLDER}/val/val_annotations.txt"
    if ann_name not in names:
        raise _corrupt(src.path, f"{ann_name} is missing")
    val = {w: [] for w in label}
    for line in src.read(ann_name).decode().splitlines():
        cols = line.split("\t")
        if len(cols) >= 2 and cols[1] in label:
            val[cols[1]].append(f"{FOLDER}/val/images/{cols[0]}")
    absent = [n for files in val.values() for n in files if n not in names]
    for split, files, want in (("train", train, per_class[0]), ("val", val, per_class[1])):
        short = {w: len(f) for w, f in files.items() if len(f) != want}
        if short:
            shown = ", ".join(f"{w} ({n})" for w, n in list(short.items())[:5])
            verb = "does" if len(short) == 1 else "do"
            raise _corrupt(src.path, f"{len(short)} of the 100 classes {verb} not have {want} "
                                     f"{split} images: {shown}{' ...' if len(short) > 5 else ''}")
    if absent:
        raise _corrupt(src.path, f"{len(absent)} validation images named in {ann_name} are "
                                 f"missing, e.g. {absent[0]}")
    key = lambda n: int(n.rsplit("_", 1)[1].split(".")[0])  # noqa: E731  (numeric order)
    order = lambda files: [(n, label[w]) for w in label for n in sorted(files[w], key=key)]  # noqa: E731
    return order(train), sorted(order(val), key=lambda t: key(t[0]))


def _tensors(src: Source, files) -> tuple[torch.Tensor, torch.Tensor]:
    from tqdm.auto import tqdm
    images = np.empty((len(files), 3, SIZE // 2, SIZE // 2), dtype=np.uint8)
    for i, (name, _) in enumerate(tqdm(files, desc="decoding Tiny ImageNet", leave=False,
                                       disable=len(files) < 5000)):
        images[i] = _decode(src, name)
    return torch.from_numpy(images), torch.tensor([y for _, y in files], dtype=torch.long)


BASE_KEYS = {"train_images", "train_fine", "test_images", "test_fine"}


def load_arrays(root: Path, download: bool = True, per_class=PER_CLASS, log=print,
                derive=None) -> dict:
    """{"train_images", "train_fine", "test_images", "test_fine"} as uint8 / int64 tensors, from
    the cache when it matches the source's digest, else decoded (and then cached).

    derive: {name: function(arrays) -> tensor}, quantities computed once from the decoded
    arrays and cached with them (the training split's statistics: seconds on 45,000 images).
    A cache that lacks one gains it without decoding again."""
    derive = derive or {}
    src = Source(find_source(root, download))
    digest = src.digest()[:16]
    cache = root / f"tiny-imagenet-100-v{CACHE_VERSION}-{digest}.pt"
    arrays = None
    if cache.exists():
        try:
            arrays = torch.load(cache, weights_only=True)
            arrays = arrays if BASE_KEYS <= set(arrays) else None
        except Exception:  # a damaged cache is only a cache: decode again
            arrays = None
        if arrays is None:
            log(f"{cache} is damaged; decoding {src.path} again")
        elif set(derive) <= set(arrays):
            return arrays
    if arrays is None:
        train_files, test_files = file_lists(src, per_class)
        (xtr, ytr), (xte, yte) = _tensors(src, train_files), _tensors(src, test_files)
        arrays = {"train_images": xtr, "train_fine": ytr, "test_images": xte, "test_fine": yte}
    arrays.update({name: f(arrays) for name, f in derive.items() if name not in arrays})
    buf = io.BytesIO()
    torch.save(arrays, buf)
    tmp = cache.with_suffix(".tmp")
    try:  # a failed write leaves no cache (the load itself has succeeded)
        tmp.write_bytes(buf.getbuffer())
        os.replace(tmp, cache)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log(f"could not cache the decoded images in {cache} ({e}); the next load decodes again")
    return arrays
