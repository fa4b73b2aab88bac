import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def synthetic():
    from hbn.data import load_synthetic
    return load_synthetic()


@pytest.fixture(scope="session")
def smoke_study(synthetic):
    """The smoke study's runs where the committed smoke pages (notebooks/smoke, nbval) read
    them, runs/synthetic/smoke (never committed): trained once a session, or reused, with
    exactly the configurations of those pages. Returns the runs root."""
    from hbn import book
    from hbn.train import train_or_reuse
    pages = book.output_dir("smoke", references=True)
    for src, _, params in book.manifest("smoke", "synthetic", page_dir=pages):
        if src == "train.md":
            train_or_reuse(book.train_config(pages, params), synthetic, log=lambda *_: None)
    return book.ROOT / "runs"
