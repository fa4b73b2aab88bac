import math

import pytest
import torch

from hbn.losses import entropy, joint_loss, semantic_loss, semantic_target


def test_joint_loss_matches_eq7_by_hand():
    # Fine logits [ln1, ln3] with target 1 -> p = 3/4 -> CE = -ln(3/4); coarse uniform over 2.
    fine_logits = torch.tensor([[0.0, math.log(3)]])
    coarse_logits = torch.zeros(1, 2)
    outs = [{"fine": fine_logits, "coarse": coarse_logits}] * 3
    loss, parts = joint_loss(outs, torch.tensor([1]), torch.tensor([0]),
                             [1.0, 0.8, 0.6], (1.5, 0.75))
    per_exit = 1.5 * -math.log(0.75) + 0.75 * math.log(2)
    assert loss.item() == pytest.approx((1.0 + 0.8 + 0.6) * per_exit, rel=1e-6)
    assert parts[0]["fine"].item() == pytest.approx(-math.log(0.75), rel=1e-6)


def test_joint_loss_uses_only_the_heads_an_exit_has():
    outs = [{"coarse": torch.zeros(2, 4)}, {"coarse": torch.zeros(2, 4)}, {"fine": torch.zeros(2, 8)}]
    loss, _ = joint_loss(outs, torch.tensor([0, 1]), torch.tensor([0, 1]), [1.0, 0.8, 0.6], (1.0, 1.0))
    assert loss.item() == pytest.approx(1.8 * math.log(4) + 0.6 * math.log(8), rel=1e-6)


def test_entropy_in_nats():
    assert entropy(torch.zeros(1, 4)).item() == pytest.approx(math.log(4))
    assert entropy(torch.tensor([[100.0, 0.0]])).item() == pytest.approx(0, abs=1e-6)


def test_semantic_target_eq8():
    # Image 0: fine right at 2 exits, coarse right at 2 -> 2*1.02 > 2 -> fine (1).
    # Image 1: fine right at 1 exit, coarse right at 3 -> coarse (0).
    fine, coarse = torch.tensor([0, 0]), torch.tensor([0, 0])
    def out(f_right, c_right):
        f = torch.tensor([[5.0, 0.0] if f_right[i] else [0.0, 5.0] for i in range(2)])
        c = torch.tensor([[5.0, 0.0] if c_right[i] else [0.0, 5.0] for i in range(2)])
        return {"fine": f, "coarse": c, "semantic": torch.zeros(2, 2)}
    outs = [out([1, 1], [1, 1]), out([1, 0], [1, 1]), out([0, 0], [0, 1])]
    assert semantic_target(outs, fine, coarse, 1.02).tolist() == [1, 0]
    loss, parts = semantic_loss(outs, fine, coarse, alpha=5.0, fine_weight=1.02)
    h_gran = 1.02 * entropy(outs[0]["fine"]).mean() + entropy(outs[0]["coarse"]).mean()
    assert loss.item() == pytest.approx(5 * math.log(2) + h_gran.item(), rel=1e-5)
