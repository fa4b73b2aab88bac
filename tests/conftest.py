import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def synthetic():
    from hbn.data import load_synthetic
    return load_synthetic()
