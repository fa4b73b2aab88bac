"""Exit rules as pure, vectorised functions over per-exit entropies (DESIGN.md §4):
BranchyNet's threshold (eq. 3), Gran-HBN's Algorithm 1 with fine tolerance τ, AG-HBN's
semantic decision (eq. 12). Each decides per image (`mode="sample"`) or, as the authors did,
once per chunk of `batch_size` images from the chunk's mean entropies (`mode="batch"`).
"""
from __future__ import annotations

import numpy as np
import torch

from . import losses

MODES = ("sample", "batch")


def as_numpy(x, dtype=np.float64) -> np.ndarray:
    """NumPy copy/view of an array or tensor (tensors are detached and moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    return np.asarray(x, dtype=dtype)


# --- decision units: one image (sample mode) or one chunk of images (batch mode) ----------------

def decision_units(n_images: int, mode: str = "sample", batch_size: int = 512) -> np.ndarray:
    """Start index of each decision unit; batch mode's last chunk may be shorter."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if n_images < 1:
        raise ValueError("no images to route")
    return np.arange(0, n_images, 1 if mode == "sample" else int(batch_size))


def unit_means(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mean of `x` (N,) or (N, B) over each unit, column by column so that a column always
    gives the same bits whether it is passed alone or inside a matrix."""
    if len(starts) == len(x):  # units of one image: the values themselves
        return np.array(x, dtype=np.float64)
    sizes = np.diff(np.append(starts, len(x)))
    if x.ndim == 1:
        return np.add.reduceat(np.ascontiguousarray(x), starts) / sizes
    return np.stack([unit_means(x[:, k], starts) for k in range(x.shape[1])], 1)


def to_images(values: np.ndarray, starts: np.ndarray, n_images: int) -> np.ndarray:
    """Broadcast one value per unit back to every image of the unit."""
    return np.repeat(values, np.diff(np.append(starts, n_images)), axis=0)


def fine_margin(fine_entropy: np.ndarray, coarse_entropy: np.ndarray) -> np.ndarray:
    """d = e_f - e_c: Algorithm 1 answers fine iff e_f - τ < e_c, i.e. iff τ > d."""
    return fine_entropy - coarse_entropy


# --- input checks -------------------------------------------------------------------------------

def _entropies(x, name: str, ndim: int = 2) -> np.ndarray:
    e = as_numpy(x)
    axes = "(images, exits)" if ndim == 2 else "(images,)"
    if e.ndim != ndim or len(e) == 0:
        raise ValueError(f"{name} must have shape {axes} with >= 1 image, got {e.shape}")
    missing = np.isnan(e).any(axis=0) if ndim == 2 else np.isnan(e).any(keepdims=True)
    if missing.any():
        where = f" at exit column(s) {np.flatnonzero(missing).tolist()} (0-based)" * (ndim == 2)
        raise ValueError(f"{name} has NaN{where}: that exit lacks the head this rule needs")
    return e


def entropy_pair(fine_entropy, coarse_entropy, ndim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    ef = _entropies(fine_entropy, "fine_entropy", ndim)
    ec = _entropies(coarse_entropy, "coarse_entropy", ndim)
    if ef.shape != ec.shape:
        raise ValueError(f"fine_entropy {ef.shape} and coarse_entropy {ec.shape} differ in shape")
    return ef, ec


def thresholds(threshold, n_exits: int) -> np.ndarray:
    """Th per exit (B,): a scalar for every exit or one value per exit (the last is unused)."""
    th = as_numpy(threshold)
    if th.ndim == 0:
        th = np.full(n_exits, float(th))
    if th.shape != (n_exits,):
        raise ValueError(f"threshold must be a scalar or have one value per exit ({n_exits}), "
                         f"got shape {th.shape}")
    if np.isnan(th).any():
        raise ValueError("threshold contains NaN")
    return th


def _tau(tau) -> float:
    tau = float(tau)
    if np.isnan(tau):
        raise ValueError("tau is NaN")
    return tau


def _semantic(sem_prob_fine, n_images: int) -> np.ndarray:
    """ŷ_sem of eq. (12) per image: 1 (fine) iff P(fine) > 0.5, from the semantic exit's
    float32 softmax over (coarse, fine) = indices (0, 1) (hbn.models.ExitSpec).

    The tie rule is the authors' argmax: an exact tie, P(fine) = 0.5, picks index 0, coarse.
    train.validate and the records use the same float32 probability and the same rule. (It
    can differ from an argmax over the two logits only where they differ by less than about
    6e-8, so little that float32 softmax rounds P(fine) to exactly 0.5.)
    """
    p = as_numpy(sem_prob_fine)
    if p.shape != (n_images,):
        raise ValueError(f"sem_prob_fine must have shape ({n_images},), got {p.shape}")
    if np.isnan(p).any():
        raise ValueError("sem_prob_fine has NaN: the model has no semantic exit (AG-HBN only)")
    return (p > 0.5).astype(np.float64)  # ŷ_sem: 1 = answer fine; a tie is coarse


# --- the rules ----------------------------------------------------------------------------------

def algorithm1(ef, ec, th, fine_cond, coarse_cond) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 on decision units. ef, ec, fine_cond, coarse_cond: (M, B); th: (B,).

    Branch n < B: fine if e_f < Th and fine_cond; else coarse if e_c < Th and coarse_cond;
    else go deeper. Branch B always exits: fine iff fine_cond. Returns (exit, is_fine), (M,).
    """
    fine = (ef < th) & fine_cond
    coarse = ~fine & (ec < th) & coarse_cond
    fine[:, -1] = fine_cond[:, -1]
    coarse[:, -1] = ~fine[:, -1]
    exit_index = np.argmax(fine | coarse, axis=1)
    return exit_index.astype(np.int64), fine[np.arange(len(fine)), exit_index]


def gran_hbn(fine_entropy, coarse_entropy, threshold, tau, mode: str = "sample",
             batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Gran-HBN's Algorithm 1 with fine tolerance τ. Entropies (N, B) -> (exit, is_fine), (N,).

    Larger τ gives more fine answers. τ = -inf never answers fine; τ = +inf answers fine
    wherever e_f < Th and at the last branch, coarse only where e_f >= Th > e_c (line 8).
    The τ test is evaluated as e_f - e_c < τ (the same inequality), so that τ sweeps over
    sorted d = e_f - e_c reproduce it bit for bit.
    """
    ef, ec = entropy_pair(fine_entropy, coarse_entropy)
    th, tau = thresholds(threshold, ef.shape[1]), _tau(tau)
    starts = decision_units(len(ef), mode, batch_size)
    uf, uc = unit_means(ef, starts), unit_means(ec, starts)  # (M, B)
    fine_cond = fine_margin(uf, uc) < tau  # τ = ±inf compares cleanly: d is finite
    exit_u, fine_u = algorithm1(uf, uc, th, fine_cond, np.ones_like(fine_cond))
    return to_images(exit_u, starts, len(ef)), to_images(fine_u, starts, len(ef))


def ag_hbn(fine_entropy, coarse_entropy, sem_prob_fine, threshold, mode: str = "sample",
           batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """AG-HBN: Algorithm 1 with eq. (12) in place of τ. Per image ŷ_sem = 1[P(fine) > 0.5]
    (argmax; a tie is coarse, see `_semantic`); the unit answers fine iff the mean of ŷ_sem
    over it is >= 0.5 (eq. 12's fine condition, so half fine half coarse is fine), coarse
    iff it is < 0.5. Sample mode: fine iff P(fine) > 0.5."""
    ef, ec = entropy_pair(fine_entropy, coarse_entropy)
    th = thresholds(threshold, ef.shape[1])
    starts = decision_units(len(ef), mode, batch_size)
    fine_u = unit_means(_semantic(sem_prob_fine, len(ef)), starts) >= 0.5  # (M,)
    fine_cond = np.repeat(fine_u[:, None], ef.shape[1], axis=1)
    exit_u, is_fine = algorithm1(unit_means(ef, starts), unit_means(ec, starts), th,
                                 fine_cond, ~fine_cond)
    return to_images(exit_u, starts, len(ef)), to_images(is_fine, starts, len(ef))


def branchynet(entropy, threshold, mode: str = "sample", batch_size: int = 512) -> np.ndarray:
    """BranchyNet (eq. 3): exit at the first branch whose entropy <= Th; the last always exits."""
    e = _entropies(entropy, "entropy")
    th = thresholds(threshold, e.shape[1])
    starts = decision_units(len(e), mode, batch_size)
    hit = unit_means(e, starts) <= th
    hit[:, -1] = True
    return to_images(np.argmax(hit, axis=1).astype(np.int64), starts, len(e))


# --- forced exits (Figs. 3 and 4): every image leaves at one branch ----------------------------

def forced(n_images: int, branch: int, is_fine=False) -> tuple[np.ndarray, np.ndarray]:
    """Every image exits at `branch` (0-based), answering fine where `is_fine` (bool or (N,))."""
    if branch < 0:
        raise ValueError(f"branch must be >= 0, got {branch}")
    fine = np.broadcast_to(as_numpy(is_fine, bool), (n_images,)).copy()
    return np.full(n_images, branch, dtype=np.int64), fine


def gran_hbn_forced(fine_entropy, coarse_entropy, tau, mode: str = "sample",
                    batch_size: int = 512) -> np.ndarray:
    """Algorithm 1's last-branch rule at one branch: fine iff e_f - τ < e_c. Inputs (N,)."""
    ef, ec = entropy_pair(fine_entropy, coarse_entropy, ndim=1)
    tau = _tau(tau)
    starts = decision_units(len(ef), mode, batch_size)
    fine_u = fine_margin(unit_means(ef, starts), unit_means(ec, starts)) < tau
    return to_images(fine_u, starts, len(ef))


def ag_hbn_forced(sem_prob_fine, mode: str = "sample", batch_size: int = 512) -> np.ndarray:
    """AG-HBN forced to one branch: fine iff eq. (12)'s fine condition holds for the unit
    (mean of ŷ_sem = 1[P(fine) > 0.5] >= 0.5), the tie rule of `ag_hbn`."""
    n = len(as_numpy(sem_prob_fine).reshape(-1))
    starts = decision_units(n, mode, batch_size)
    return to_images(unit_means(_semantic(sem_prob_fine, n), starts) >= 0.5, starts, n)


# --- the fast path: really stop computing at the exit (latency) --------------------------------

@torch.no_grad()
def early_exit_gran_hbn(model, x: torch.Tensor, threshold, tau) -> tuple[int, bool, int]:
    """Algorithm 1 for one image (x: (1, C, H, W)), running the network only up to its exit.

    Returns (exit index (0-based), is_fine, predicted class at that granularity). Decides
    exactly as `gran_hbn(..., mode="sample")` on the same entropies (float64 comparisons).
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must have shape (1, C, H, W), got {tuple(x.shape)}")
    n_exits = len(model.exit_specs)
    if any(not {"fine", "coarse"} <= set(s.heads) for s in model.exit_specs):
        raise ValueError("Gran-HBN routing needs fine and coarse heads on every exit")
    th, tau = thresholds(threshold, n_exits), _tau(tau)
    was_training = model.training
    model.eval()
    gen = model.iter_exits(x)
    try:
        for k, out in enumerate(gen):
            ef, ec = (float(losses.entropy(out[g])[0]) for g in ("fine", "coarse"))  # nats
            fine_cond = fine_margin(ef, ec) < tau
            last = k == n_exits - 1
            if (ef < th[k] and fine_cond) or (last and fine_cond):
                return k, True, int(out["fine"][0].argmax())
            if ec < th[k] or last:
                return k, False, int(out["coarse"][0].argmax())
    finally:
        gen.close()  # the deeper stages never run
        model.train(was_training)
    raise RuntimeError("model yielded fewer exits than exit_specs")
