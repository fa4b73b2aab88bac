import pytest
import torch

from hbn.cost import exit_flops
from hbn.models import MODEL_EXITS, count_parameters, create_model


@pytest.mark.parametrize("name", list(MODEL_EXITS))
def test_forward_shapes_finite_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_fine=12, num_coarse=4, in_channels=3, width=0.25)
    outs = model(torch.randn(5, 3, 32, 32))
    specs = [s for s in MODEL_EXITS[name] if s is not None]
    assert len(outs) == len(specs) == len(model.exit_stages)
    for out, spec in zip(outs, specs):
        expected = set(spec.heads) | ({"semantic"} if spec.semantic else set())
        assert set(out) == expected
        sizes = {"fine": 12, "coarse": 4, "semantic": 2}
        for g, logits in out.items():
            assert logits.shape == (5, sizes[g])
            assert torch.isfinite(logits).all()
    loss = sum(v.logsumexp(-1).mean() for out in outs for v in out.values())
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _conv(cin, cout):
    return cin * cout * 9 + cout


def _lin(cin, cout):
    return cin * cout + cout


# The authors' architecture (DESIGN.md §2), counted layer by layer, independently of hbn.models.
TRUNK = _conv(3, 64) + _conv(64, 192) + _conv(192, 384) + _conv(384, 256) + _conv(256, 256)
EXIT_FEATURES = [
    _conv(64, 256) + _conv(256, 128) + _lin(512, 2048),
    _conv(384, 256) + _lin(256, 2048),
    _lin(1024, 2048) + _lin(2048, 2048),
]
F, C = _lin(2048, 100), _lin(2048, 20)
EXPECTED_PARAMS = {
    "alexnet": TRUNK + EXIT_FEATURES[2] + F,
    "b-alexnet": TRUNK + sum(EXIT_FEATURES) + 3 * F,
    "sem-alexnet": TRUNK + sum(EXIT_FEATURES) + 2 * C + F,
    "gran-hbn": TRUNK + sum(EXIT_FEATURES) + 3 * (F + C),
    "ag-hbn": TRUNK + sum(EXIT_FEATURES) + 3 * (F + C) + _lin(2048, 2),
}


@pytest.mark.parametrize("name", list(MODEL_EXITS))
def test_parameter_counts_match_the_authors_architecture(name):
    assert count_parameters(create_model(name)) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name,reference", [
    ("alexnet", [96.45]),
    ("b-alexnet", [31.70, 75.63, 135.81]),
    ("gran-hbn", [31.78, 75.79, 136.05]),
])
def test_exit_flops_reproduce_the_authors_figures(name, reference):
    flops = exit_flops(create_model(name), (1, 3, 32, 32))
    assert len(flops) == len(reference)
    for ours, theirs in zip(flops, reference):
        assert abs(ours / 1e6 - theirs) / theirs < 0.01
    assert flops == sorted(flops)  # cumulative: a later exit costs more


def test_kaiming_init_really_runs():
    torch.manual_seed(0)
    conv = create_model("alexnet").stages[1][0]  # Conv2d(64, 192): fan_out = 192 * 9
    expected_std = (2 / (192 * 9)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    assert torch.all(conv.bias == 0)


def test_unknown_model_and_bad_width_are_rejected():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*gran-hbn"):
        create_model("resnet")
    with pytest.raises(ValueError, match="width"):
        create_model("gran-hbn", width=0)


def test_iter_exits_stops_early_and_matches_forward():
    torch.manual_seed(0)
    model = create_model("gran-hbn", 12, 4, 3, 0.25).eval()
    x = torch.randn(2, 3, 32, 32)
    full = model(x)
    first = next(model.iter_exits(x))
    torch.testing.assert_close(first["fine"], full[0]["fine"])
