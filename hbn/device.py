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


def channels_last(cfg: RunConfig, device: torch.device) -> bool:
    """Whether a CPU run trains in the channels_last memory format: on the fast path, in bf16
    (~7 % faster with AMX, benchmarks/train_throughput.py) and in fp32 on a CPU without native
    bf16 (AMD EPYC Zen 3: benchmarks/memory_format.py). The numbers are the same up to rounding."""
    return cfg.fast and device.type == "cpu"


def compiled(model):
    """CUDA graphs for the forward and backward passes (GPU only)."""
    return torch.compile(model, mode="reduce-overhead")


# --- subnormal floats -----------------------------------------------------------------------
# Weight decay drives many weights and Adam moments of a long CPU run into the subnormal range
# (a Tiny ImageNet Sem-AlexNet after 8 epochs: 5.5 M of its 11.7 M weights), where x86
# arithmetic is many times slower: its epochs slowed from 54 s to 172 s. Flushing subnormals to
# zero (FTZ/DAZ) restores the speed (2.04x, benchmarks/denormals.py) and changes no value above
# 1.2e-38. The flag is per thread, and the OpenMP workers that do most of the CPU work keep the
# one they were created with, so `flush_subnormals` sets it in each of them too.

def _openmp():
    """The OpenMP runtime torch loaded (GNU libgomp), or None (another runtime, or none)."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libgomp" in line and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.GOMP_parallel  # noqa: B018 (the entry point this needs)
            return lib
        except (OSError, AttributeError):
            continue
    return None


def flush_subnormals(on: bool = True) -> str:
    """Flush subnormal floats to zero (`on`) or not, in this thread and in every OpenMP worker
    thread torch computes with; returns what was done, as meta.json records it."""
    import ctypes
    if not torch.set_flush_denormal(on):
        return "not supported by this CPU (no SSE3)"
    done = "flushed to zero" if on else "kept"
    lib, n = _openmp(), torch.get_num_threads()
    if n == 1:
        return f"{done} (1 thread)"
    if lib is None:
        return f"{done} (this thread only: torch's OpenMP runtime is not GNU libgomp)"
    callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: torch.set_flush_denormal(on))
    lib.GOMP_parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    lib.GOMP_parallel(ctypes.cast(callback, ctypes.c_void_p), None, n, 0)  # each thread runs it once
    return f"{done} (all {n} threads)"
