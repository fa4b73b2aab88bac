"""The five networks of the study: one AlexNet trunk plus declared exits (DESIGN.md §2).

`create_model(name)` builds AlexNet, B-AlexNet, Sem-AlexNet, Gran-HBN (paper §III, Fig. 2) or
AG-HBN (§IV: Gran-HBN + a semantic exit). `forward` returns every exit's logits; the exit
rules live in `hbn.routing`, never in the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ExitSpec:
    """Which classifiers an exit carries: granularities and, for AG-HBN, the semantic exit."""

    heads: tuple[str, ...]  # subset of ("fine", "coarse")
    semantic: bool = False  # AG-HBN's L(2048, 2): 0 = answer coarse, 1 = answer fine


_F, _C, _FC = ExitSpec(("fine",)), ExitSpec(("coarse",)), ExitSpec(("fine", "coarse"))
# One entry per trunk stage; None = no exit after that stage.
MODEL_EXITS: dict[str, tuple[ExitSpec | None, ...]] = {
    "alexnet": (None, None, _F),
    "b-alexnet": (_F, _F, _F),
    "sem-alexnet": (_C, _C, _F),
    "gran-hbn": (_FC, _FC, _FC),
    "ag-hbn": (ExitSpec(("fine", "coarse"), semantic=True), _FC, _FC),
}
MODEL_TITLES = {
    "alexnet": "AlexNet", "b-alexnet": "B-AlexNet", "sem-alexnet": "Sem-AlexNet",
    "gran-hbn": "Gran-HBN", "ag-hbn": "AG-HBN",
}


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1)


def _trunk(cin: int, c) -> nn.ModuleList:
    # Authors' order is conv -> pool -> ReLU. Shapes for a 32x32 input in the comments.
    return nn.ModuleList([
        nn.Sequential(_conv(cin, c(64), 2), nn.MaxPool2d(2), nn.ReLU()),  # (64, 8, 8)
        nn.Sequential(_conv(c(64), c(192)), nn.MaxPool2d(2), nn.ReLU(),
                      _conv(c(192), c(384)), nn.ReLU()),  # (384, 4, 4)
        nn.Sequential(_conv(c(384), c(256)), nn.ReLU(),
                      _conv(c(256), c(256)), nn.MaxPool2d(2), nn.ReLU()),  # (256, 2, 2)
    ])


def _exit_features(stage: int, c) -> nn.Sequential:
    """The layers of exit `stage` up to its shared 2048-d feature."""
    hidden = c(2048)
    if stage == 0:
        return nn.Sequential(
            _conv(c(64), c(256)), nn.MaxPool2d(2), nn.ReLU(),
            _conv(c(256), c(128)), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),  # 128*2*2 = 512
            nn.Dropout(0.5), nn.Linear(c(128) * 4, hidden), nn.ReLU())
    if stage == 1:
        return nn.Sequential(
            _conv(c(384), c(256), 2), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),  # 256*1*1
            nn.Dropout(0.5), nn.Linear(c(256), hidden), nn.ReLU())
    return nn.Sequential(
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(c(256) * 4, hidden), nn.ReLU(),  # 256*2*2
        nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU())


class Exit(nn.Module):
    """An exit head: a feature block shared by its fine / coarse / semantic classifiers."""

    def __init__(self, stage: int, spec: ExitSpec, num_classes: dict[str, int], c):
        super().__init__()
        self.features = _exit_features(stage, c)
        names = spec.heads + (("semantic",) if spec.semantic else ())
        self.classifiers = nn.ModuleDict({g: nn.Linear(c(2048), num_classes[g]) for g in names})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(x)  # (B, 2048)
        return {g: head(h) for g, head in self.classifiers.items()}


class BranchyNet(nn.Module):
    """AlexNet trunk with exits after the stages named by `exits`.

    `forward(x)` returns a list with one dict per exit, in depth order; each dict maps
    "fine" -> (B, num_fine) logits, "coarse" -> (B, num_coarse) logits and, on AG-HBN's first
    exit, "semantic" -> (B, 2) logits (index 1 = fine). `exit_stages` gives each exit's
    trunk stage (0-based), so AlexNet's single exit is stage 2, i.e. branch 3.
    """

    def __init__(self, name: str, exits, num_fine: int, num_coarse: int, in_channels: int,
                 width: float):
        super().__init__()
        c = lambda n: max(1, round(n * width))  # noqa: E731 - channel scaling
        self.name, self.width = name, width
        self.stages = _trunk(in_channels, c)
        classes = {"fine": num_fine, "coarse": num_coarse, "semantic": 2}
        self.exit_specs = tuple(s for s in exits if s is not None)
        self.exit_stages = tuple(i for i, s in enumerate(exits) if s is not None)
        self.exits = nn.ModuleDict(
            {str(i): Exit(i, s, classes, c) for i, s in enumerate(exits) if s is not None})
        self.reset_parameters()

    def reset_parameters(self):
        # Kaiming-normal conv weights for real (the authors' call was a no-op; DESIGN.md §3).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def iter_exits(self, x: torch.Tensor):
        """Yield each exit's outputs as soon as it is reached; stop early by not resuming."""
        for i, stage in enumerate(self.stages):
            x = stage(x)
            key = str(i)
            if key in self.exits:
                yield self.exits[key](x)

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        # A plain loop rather than list(self.iter_exits(x)): torch.compile traces it cleanly.
        outputs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if str(i) in self.exits:
                outputs.append(self.exits[str(i)](x))
        return outputs


def create_model(name: str, num_fine: int = 100, num_coarse: int = 20, in_channels: int = 3,
                 width: float = 1.0) -> BranchyNet:
    """Build one of `MODEL_EXITS` (alexnet, b-alexnet, sem-alexnet, gran-hbn, ag-hbn)."""
    if name not in MODEL_EXITS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_EXITS)}")
    if not width > 0 or num_fine < 1 or num_coarse < 1 or in_channels < 1:
        raise ValueError("width must be > 0 and num_fine, num_coarse, in_channels >= 1")
    return BranchyNet(name, MODEL_EXITS[name], num_fine, num_coarse, in_channels, width)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(cfg, ds) -> BranchyNet:
    """The network of a run configuration (`cfg.model`, `cfg.width`) for a dataset's classes."""
    return create_model(cfg.model, ds.hierarchy.num_fine, ds.hierarchy.num_coarse,
                        ds.in_channels, cfg.width)
