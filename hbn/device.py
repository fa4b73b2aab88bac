"""Where and in what arithmetic a run trains: the device (`resolve_device`), bf16 autocast
where the hardware computes bf16 natively (a GPU, or a CPU with AVX512-BF16 / AMX), and CUDA
graphs on a GPU (`compiled`). `precision` names the result, as meta.json records it.
"""
from __future__ import annotations

import torch

from .config import RunConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but no CUDA GPU is visible; use --device cpu")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 matrix products natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision(cfg: RunConfig, device: torch.device) -> str:
    """The arithmetic a run trains with, as recorded in meta.json and shown in the book."""
    if not cfg.fast:
        return "fp32"
    if device.type == "cuda":
        return "bf16 autocast + CUDA graphs"
    return "bf16 autocast (CPU)" if cpu_has_bf16() else "fp32 (CPU without native bf16)"


def compiled(model):
    """CUDA graphs for the forward and backward passes (GPU only)."""
    return torch.compile(model, mode="reduce-overhead")
