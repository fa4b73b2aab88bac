"""Training losses: the joint loss of eqs. (1)-(7) and AG-HBN's semantic loss, eqs. (8)-(11)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def joint_loss(outputs: list[dict[str, torch.Tensor]], fine: torch.Tensor, coarse: torch.Tensor,
               exit_weights, granularity_weights) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Eq. (7): sum_n w_n sum_g w_g CE_n^(g), over the granularities each exit has.

    `exit_weights` gives one w_n per exit present (in order); `granularity_weights` is
    (w_fine, w_coarse). Returns the loss and each term's unweighted CE for logging.
    """
    targets = {"fine": fine, "coarse": coarse}
    w_g = {"fine": granularity_weights[0], "coarse": granularity_weights[1]}
    total = fine.new_zeros((), dtype=torch.float32)
    parts = []
    for w_n, out in zip(exit_weights, outputs, strict=True):
        terms = {}
        for g in ("fine", "coarse"):
            if g in out:
                ce = F.cross_entropy(out[g].float(), targets[g])  # mean over the batch, eq. (5)
                total = total + w_n * w_g[g] * ce
                terms[g] = ce.detach()
        parts.append(terms)
    return total, parts


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of softmax(logits) along the last axis, eqs. (3) and (9)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def semantic_target(outputs, fine: torch.Tensor, coarse: torch.Tensor,
                    fine_weight: float) -> torch.Tensor:
    """Eq. (8): 1 (answer fine) where w_f * #exits right at fine > #exits right at coarse."""
    fine_right = sum((o["fine"].argmax(-1) == fine).float() for o in outputs)
    coarse_right = sum((o["coarse"].argmax(-1) == coarse).float() for o in outputs)
    return (fine_right * fine_weight > coarse_right).long()


def semantic_loss(outputs, fine: torch.Tensor, coarse: torch.Tensor, alpha: float,
                  fine_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. (11): alpha * BCE(y_sem_target, y_sem) + H_gran.

    The semantic exit has two logits (0 = coarse, 1 = fine), so its BCE is a 2-way cross-
    entropy. H_gran (eq. 10) is computed at exit 1, where the semantic exit sits; with every
    other weight frozen it carries no gradient, so it only shifts the reported loss value.
    """
    target = semantic_target(outputs, fine, coarse, fine_weight)
    bce = F.cross_entropy(outputs[0]["semantic"].float(), target)
    h_gran = (fine_weight * entropy(outputs[0]["fine"]).mean()
              + entropy(outputs[0]["coarse"]).mean())
    loss = alpha * bce + h_gran.detach()
    return loss, {"bce": bce.detach(), "h_gran": h_gran.detach(),
                  "target_fine_share": target.float().mean()}
