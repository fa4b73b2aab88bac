"""Tiny ImageNet 100/20 (hbn.tinyimagenet, issue 18) on small archives written in the official
layout (3 training and 1 validation image per class instead of 500 and 50), never the real data."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from hbn import hierarchy as hier
from hbn import tinyimagenet as tin
from hbn.data import DataCorrupt, DataUnavailable, load_tiny_imagenet

PER_CLASS = (3, 1)
EXTRA = ["n02480855", "n10148035"]  # in the public copy's wnids.txt, not in the 100


def _jpeg(seed: int, size=(64, 64), mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def official_files(skip_class: str | None = None, bad: dict | None = None) -> dict[str, bytes]:
    """{archive path: bytes} of a small Tiny ImageNet in the official layout."""
    bad = bad or {}
    root = tin.FOLDER
    wnids = list(hier.TINY_IMAGENET_WNIDS) + EXTRA
    files = {f"{root}/wnids.txt": "\n".join(wnids).encode(),
             f"{root}/words.txt": "\n".join(f"{w}\tthing {w}" for w in wnids).encode()}
    ann, k = [], 0
    for c, w in enumerate(wnids):
        if w == skip_class:
            continue
        for i in range(PER_CLASS[0]):
            name = f"{root}/train/{w}/images/{w}_{i}.JPEG"
            files[name] = bad.get(name) or _jpeg(c * 10 + i, mode="L" if (c, i) == (1, 0) else "RGB")
        files[f"{root}/train/{w}/{w}_boxes.txt"] = b""
        for _ in range(PER_CLASS[1]):
            name = f"{root}/val/images/val_{k}.JPEG"
            files[name] = bad.get(name) or _jpeg(10_000 + k)
            ann.append(f"val_{k}.JPEG\t{w}\t0\t0\t63\t63")
            k += 1
    files[f"{root}/val/val_annotations.txt"] = "\n".join(ann).encode()
    return files


def write_zip(path, files, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_zip(tmp_path_factory.mktemp("tin") / tin.ARCHIVES[0], official_files())


def _load(folder, **kw):
    return load_tiny_imagenet(folder, download=False, per_class=PER_CLASS, **kw)


def test_the_hierarchy_is_cifar100_shaped():
    h = hier.TINY_IMAGENET
    assert (h.num_fine, h.num_coarse) == (100, 20)
    assert all(len(h.children(c)) == 5 for c in range(20))
    assert h.fine_names[:2] == ("German shepherd", "Labrador retriever") and h.coarse_names[19] == "natural scenes"
    assert len(set(hier.TINY_IMAGENET_WNIDS)) == 100 and not set(EXTRA) & set(hier.TINY_IMAGENET_WNIDS)


def test_loads_the_100_classes_in_label_order_as_rgb_32x32(archive):
    ds = _load(archive.parent)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (270, 30, 100)  # 90 % / 10 % / official val
    assert ds.train.images.shape[1:] == (3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert ds.title == "Tiny ImageNet 100/20"
    assert torch.equal(ds.test.fine, torch.arange(100))  # val_k in annotation order = class order
    assert torch.equal(ds.test.coarse, torch.arange(100) // 5)
    fine = torch.cat([ds.train.fine, ds.val.fine])
    assert torch.equal(torch.bincount(fine), torch.full((100,), 3))


def test_box_averaging_and_greyscale_to_rgb(archive):
    a = tin.load_arrays(archive.parent, download=False, per_class=PER_CLASS)
    src = tin.Source(archive)
    name = f"{tin.FOLDER}/train/{hier.TINY_IMAGENET_WNIDS[0]}/images/{hier.TINY_IMAGENET_WNIDS[0]}_0.JPEG"
    pixels = np.asarray(Image.open(io.BytesIO(src.read(name))).convert("RGB"), dtype=float)
    box = pixels.reshape(32, 2, 32, 2, 3).mean((1, 3)).transpose(2, 0, 1)
    assert np.abs(a["train_images"][0].numpy() - box).max() <= 1  # 2x2 means, rounded
    grey = a["train_images"][3]  # class 1's first image was written greyscale
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_the_extracted_folder_loads_the_same_and_the_cache_is_keyed_by_the_source(archive, tmp_path, monkeypatch):
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path)
    a = tin.load_arrays(tmp_path, download=False, per_class=PER_CLASS)
    b = tin.load_arrays(archive.parent, download=False, per_class=PER_CLASS)
    assert all(torch.equal(a[k], b[k]) for k in a)
    caches = sorted(archive.parent.glob("tiny-imagenet-100-v*.pt"))
    assert len(caches) == 1
    monkeypatch.setattr(tin, "_decode", lambda *a: pytest.fail("decoded again despite the cache"))
    c = tin.load_arrays(archive.parent, download=False, per_class=PER_CLASS)
    assert all(torch.equal(b[k], c[k]) for k in b)


def test_a_missing_archive_says_where_to_put_it(tmp_path):
    with pytest.raises(DataUnavailable, match=r"Tiny ImageNet is not available \(download disabled\)"
                                              r".*tiny-imagenet-200\.zip.*get-tiny-imagenet\.sh"):
        _load(tmp_path)


def _fails(tmp_path, files, match, method=zipfile.ZIP_DEFLATED, damage=None):
    path = write_zip(tmp_path / tin.ARCHIVES[1], files, method)
    if damage:
        damage(path)
    with pytest.raises(DataCorrupt, match=match):
        _load(tmp_path)
    assert not list(tmp_path.glob("tiny-imagenet-100-*.pt")), "a failed load wrote a cache"


def test_an_archive_that_lacks_a_class_names_it(tmp_path):
    w = hier.TINY_IMAGENET_WNIDS[7]
    _fails(tmp_path, official_files(skip_class=w),
           rf"1 of the 100 classes does not have 3 train images: {w} \(0\).*Nothing was loaded")


def test_a_truncated_archive_is_named(tmp_path):
    def cut(path):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _fails(tmp_path, official_files(), r"tiny-imagenet-200-h100\.zip: not a readable zip archive", damage=cut)


def test_a_failed_crc_names_the_member(tmp_path):
    files = official_files()
    victim = f"{tin.FOLDER}/train/{hier.TINY_IMAGENET_WNIDS[3]}/images/{hier.TINY_IMAGENET_WNIDS[3]}_1.JPEG"

    def flip(path):
        raw = bytearray(path.read_bytes())
        at = bytes(raw).index(files[victim]) + len(files[victim]) // 2
        raw[at] ^= 0xFF
        path.write_bytes(bytes(raw))
    _fails(tmp_path, files, rf"{victim} cannot be read \(Bad CRC-32", zipfile.ZIP_STORED, flip)


@pytest.mark.parametrize("data,match", [(b"not a jpeg", "does not decode as an image"),
                                        (None, "is 63x64, not 64x64")])
def test_an_image_that_does_not_decode_or_is_not_64x64_is_named(tmp_path, data, match):
    victim = f"{tin.FOLDER}/val/images/val_5.JPEG"
    _fails(tmp_path, official_files(bad={victim: data or _jpeg(1, size=(63, 64))}),
           rf"{victim} {match}")


def test_the_training_statistics_are_cached_and_equal_the_computed_ones(tmp_path, monkeypatch):
    from hbn import data
    archive = write_zip(tmp_path / tin.ARCHIVES[0], official_files())
    first = _load(archive.parent)
    assert (first.mean, first.std) == data._stats(first.train.images)  # bit for bit
    cache, = archive.parent.glob("tiny-imagenet-100-v*.pt")
    assert "train_stats" in torch.load(cache, weights_only=True)
    monkeypatch.setattr(data, "_stats", lambda *a: pytest.fail("statistics computed again"))
    again = _load(archive.parent)
    assert (again.mean, again.std) == (first.mean, first.std)


def test_a_cache_without_the_statistics_gains_them_without_decoding(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / tin.ARCHIVES[0], official_files())
    a = tin.load_arrays(archive.parent, download=False, per_class=PER_CLASS)  # no derived keys
    assert "train_stats" not in a
    monkeypatch.setattr(tin, "_decode", lambda *a: pytest.fail("decoded again despite the cache"))
    ds = _load(archive.parent)
    cache, = archive.parent.glob("tiny-imagenet-100-v*.pt")
    assert "train_stats" in torch.load(cache, weights_only=True) and len(ds.mean) == 3
