"""Batches on the data's device: normalisation, and per-image random crop + flip for training.

Images stay uint8 until a batch is drawn (airbench-style); validation and test batches are never
augmented (the authors' code augmented test images too; DESIGN.md §1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import Split


def _stat_tensor(values, device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device).view(1, -1, 1, 1)


def normalise(images: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 normalised; mean/std as sequences or (1, C, 1, 1) tensors."""
    m = mean if isinstance(mean, torch.Tensor) else _stat_tensor(mean, images.device)
    s = std if isinstance(std, torch.Tensor) else _stat_tensor(std, images.device)
    return (images.float() / 255 - m) / s


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random 32x32 crop of the reflect-padded image + horizontal flip, per image."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B,1,H,1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B,1,1,W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    out = padded[batch, chan, rows, cols]
    flip = torch.rand(b, generator=generator, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def batches(split: Split, batch_size: int, mean, std, generator: torch.Generator | None = None,
            train: bool = False):
    """Yield (x, fine, coarse); shuffled and augmented only when `train`."""
    n = len(split)
    device = split.fine.device
    # Made once per pass, not per batch: a host-to-GPU copy per batch would stall the stream.
    mean, std = _stat_tensor(mean, device), _stat_tensor(std, device)
    order = (torch.randperm(n, generator=generator, device=device) if train
             else torch.arange(n, device=device))
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        x = normalise(split.images[idx], mean, std)
        if train:
            x = augment(x, generator)
        yield x, split.fine[idx], split.coarse[idx]
