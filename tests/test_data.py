import gzip
import pickle
import tarfile

import numpy as np
import pytest
import torch

from hbn import batching, data, hierarchy
from hbn.data import DataCorrupt, DataUnavailable


def test_every_dataset_names_its_hierarchy_and_an_unknown_one_is_refused():
    from hbn.config import DATASETS
    shapes = {d: (hierarchy.of(d).num_fine, hierarchy.of(d).num_coarse) for d in DATASETS}
    assert shapes == {"cifar100": (100, 20), "fashion-mnist": (10, 6),
                      "tiny-imagenet-100": (100, 20), "synthetic": (12, 4)}
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'.*tiny-imagenet-100"):
        hierarchy.of("cifar10")


def test_cifar100_hierarchy_has_20_superclasses_of_5():
    h = hierarchy.CIFAR100
    assert h.num_fine == 100 and h.num_coarse == 20
    assert all(len(h.children(c)) == 5 for c in range(20))
    assert h.fine_names[h.children(h.coarse_names.index("aquatic_mammals"))[0]] == "beaver"
    assert {h.fine_names[f] for f in h.children(h.coarse_names.index("trees"))} == {
        "maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"}


def test_fashion_mnist_hierarchy_groups():
    h = hierarchy.FASHION_MNIST
    groups = {h.coarse_names[c]: {h.fine_names[f] for f in h.children(c)} for c in range(6)}
    assert groups["tops"] == {"T-shirt/top", "Shirt"}
    assert groups["outers"] == {"Pullover", "Coat"}
    assert groups["shoes"] == {"Sandal", "Sneaker", "Ankle boot"}
    assert h.fine_to_coarse()[torch.tensor([1, 3, 8])].tolist() == [1, 2, 4]


def _write_fake_cifar(root, n_train=50, n_test=20, seed=0):
    """Small files in the official CIFAR-100 python-pickle format."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    lookup = np.array(hierarchy.CIFAR100_FINE_TO_COARSE)
    for name, n in (("train", n_train), ("test", n_test)):
        fine = rng.integers(0, 100, n)
        d = {"filenames": [f"img{i}.png" for i in range(n)], "batch_label": name,
             "fine_labels": fine.tolist(), "coarse_labels": lookup[fine].tolist(),
             "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        with open(folder / name, "wb") as f:
            pickle.dump(d, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": list(hierarchy.CIFAR100_FINE_NAMES),
                     "coarse_label_names": list(hierarchy.CIFAR100_COARSE_NAMES)}, f)
    return folder


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    folder = _write_fake_cifar(tmp_path)
    monkeypatch.setattr(data, "CIFAR100_FILES",
                        {n: data.md5_of(folder / n) for n in ("train", "test", "meta")})
    return tmp_path


def test_cifar100_reader_reads_fine_coarse_and_names(fake_cifar):
    ds = data.load_cifar100(fake_cifar, download=False)
    raw = pickle.load(open(fake_cifar / "cifar-100-python" / "test", "rb"), encoding="latin1")
    assert ds.test.images.shape == (20, 3, 32, 32) and ds.test.images.dtype == torch.uint8
    assert ds.test.fine.tolist() == raw["fine_labels"]
    assert ds.test.coarse.tolist() == raw["coarse_labels"]
    assert torch.equal(ds.test.images[0].flatten(), torch.from_numpy(raw["data"][0]))
    assert len(ds.train) == 45 and len(ds.val) == 5  # the 45,000 / 5,000 proportions
    assert ds.hierarchy.fine_names[0] == "apple" and ds.hierarchy.num_coarse == 20
    again = data.load_cifar100(fake_cifar, download=False)
    assert torch.equal(again.val.fine, ds.val.fine)  # fixed split seed


def test_cifar100_checksum_mismatch_is_reported_not_loaded(fake_cifar):
    path = fake_cifar / "cifar-100-python" / "test"
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    with pytest.raises(DataCorrupt, match="checksum"):
        data.load_cifar100(fake_cifar, download=False)


def test_cifar100_archive_is_verified_and_extracted(tmp_path, monkeypatch):
    src = tmp_path / "src"
    folder = _write_fake_cifar(src)
    monkeypatch.setattr(data, "CIFAR100_FILES", {n: data.md5_of(folder / n) for n in ("train", "test", "meta")})
    root = tmp_path / "root"
    root.mkdir()
    archive = root / data.CIFAR100_ARCHIVE[0]
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    monkeypatch.setattr(data, "CIFAR100_ARCHIVE", (archive.name, data.md5_of(archive)))
    assert len(data.load_cifar100(root, download=False).test) == 20
    # A corrupt archive (wrong md5) is refused before extraction.
    root2 = tmp_path / "root2"
    root2.mkdir()
    (root2 / archive.name).write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DataCorrupt, match="checksum"):
        data.load_cifar100(root2, download=False)


def test_missing_cifar100_names_where_files_go_and_the_alternative(tmp_path):
    with pytest.raises(DataUnavailable) as e:
        data.load_cifar100(tmp_path, download=False)
    msg = str(e.value)
    assert "cifar-100-python.tar.gz" in msg and str(tmp_path) in msg and "fashion-mnist" in msg


def test_fallback_is_loud(tmp_path):
    lines = []
    assert data.resolve_dataset("cifar100", tmp_path, download=False, fallback=True,
                                log=lines.append) == "fashion-mnist"
    assert "FALLING BACK TO FASHION-MNIST" in lines[0]
    with pytest.raises(DataUnavailable):
        data.resolve_dataset("cifar100", tmp_path, download=False, fallback=False)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reader_on_official_format_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for prefix, n in (("train", 5100), ("t10k", 30)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    monkeypatch.setattr(data, "FASHION_MNIST_FILES",
                        {f: data.md5_of(folder / f, decompress=True) for f in data.FASHION_MNIST_FILES})
    ds = data.load_fashion_mnist(tmp_path, download=False)
    assert ds.test.images.shape == (30, 1, 32, 32)
    assert ds.test.images[:, :, :2].sum() == 0  # zero-padded 28 -> 32
    assert len(ds.train) == 100 and len(ds.val) == 5000
    assert torch.equal(ds.test.coarse, hierarchy.FASHION_MNIST.fine_to_coarse()[ds.test.fine])
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not a gzip file")
    with pytest.raises(DataCorrupt):
        data.load_fashion_mnist(tmp_path, download=False)


def test_missing_fashion_mnist_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(DataUnavailable, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path, download=False)


@pytest.mark.skipif(not (data.FASHION_MNIST_SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_splits():
    ds = data.load_dataset("fashion-mnist")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (55_000, 5_000, 10_000)
    assert ds.in_channels == 1 and ds.train.images.dtype == torch.uint8


def test_synthetic_is_named_synthetic_and_deterministic(synthetic):
    assert "synthetic" in synthetic.title and synthetic.hierarchy.num_fine == 12
    assert torch.equal(synthetic.test.images, data.load_synthetic().test.images)


def test_augmentation_only_when_training(synthetic):
    split = synthetic.test.take(torch.arange(64))
    g = torch.Generator().manual_seed(0)
    x_eval, _, _ = next(batching.batches(split, 64, synthetic.mean, synthetic.std))
    torch.testing.assert_close(x_eval, batching.normalise(split.images, synthetic.mean, synthetic.std))
    x_train, fine, _ = next(batching.batches(split, 64, synthetic.mean, synthetic.std, g, train=True))
    assert x_train.shape == x_eval.shape and not torch.equal(fine, split.fine)  # shuffled


def test_augment_is_a_shifted_crop_or_its_flip():
    x = torch.arange(2 * 1 * 32 * 32, dtype=torch.float32).view(2, 1, 32, 32)
    out = batching.augment(x, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4), mode="reflect")
    for i in range(2):
        found = any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(-1))
                    for dy in range(9) for dx in range(9)
                    for c in [padded[i, :, dy:dy + 32, dx:dx + 32]])
        assert found
