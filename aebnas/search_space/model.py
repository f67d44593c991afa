"""EarlyExitNet: a backbone split into stages plus exit branches, with a training forward over every
exit and an inference method that really exits early per sample."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import torch
from torch import Tensor, nn

from aebnas.exceptions import AebnasError
from aebnas.exit_rules import confidence
from aebnas.search_space.architecture import Architecture, validate
from aebnas.search_space.backbones import BACKBONES, InputStatistics, stage_shapes
from aebnas.search_space.layers import LayerSpec


class DatasetShape(Protocol):
    """What building a network needs to know of a dataset (aebnas.datasets.DatasetInfo has it)."""

    num_classes: int
    input_shape: tuple[int, int, int]


def build_branch(branch: Sequence[LayerSpec], shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """Branch layers, then global average pooling and a linear classifier, for `C x H x W` inputs."""
    channels, size = shape[0], min(shape[1:])
    modules = []
    for layer in branch:
        modules.append(layer.build(channels, size))
        channels, size = layer.output_shape(channels, size)
    return nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


class EarlyExitNet(nn.Module):
    """Backbone stages, early-exit branches after stages ``positions`` (1-based), and a final head.

    Exit k < len(positions) is the branch after stage ``positions[k]``; the last exit is the head.
    """

    def __init__(self, stages: nn.ModuleList, head: nn.Module, branches: nn.ModuleList, positions: Sequence[int]) -> None:
        super().__init__()
        self.stages = stages
        self.head = head
        self.branches = branches
        self.positions = tuple(positions)

    @property
    def num_exits(self) -> int:
        return len(self.branches) + 1

    def forward(self, x: Tensor) -> Tensor:
        """`batch x C x H x W` -> `batch x exits x classes` logits of every exit."""
        return self.exit_logits(self.stage_features(x))

    def stage_features(self, x: Tensor) -> list[Tensor]:
        """Outputs of every backbone stage, `batch x C_s x H_s x W_s` each."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def exit_logits(self, features: Sequence[Tensor]) -> Tensor:
        """`batch x exits x classes` logits from stage features (all stages, as from ``stage_features``)."""
        logits = [branch(features[p - 1]) for branch, p in zip(self.branches, self.positions)]
        logits.append(self.head(features[-1]))
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def infer(self, x: Tensor, thresholds: Tensor | Sequence[float], rule: str = "margin") -> tuple[Tensor, Tensor]:
        """Real early-exit inference: each sample stops at the first early exit whose confidence under
        ``rule`` is >= its threshold; only the remaining samples run further.

        Args:
            x: `batch x C x H x W` inputs.
            thresholds: `exits - 1` thresholds of the early exits (+inf = never exit there).
        Returns:
            (`batch` predicted classes, `batch` exit indices).
        """
        thresholds = torch.as_tensor(thresholds, dtype=torch.float32).flatten()
        if thresholds.numel() != len(self.branches):
            raise AebnasError(f"expected {len(self.branches)} thresholds (one per early exit), got {thresholds.numel()}")
        n = x.shape[0]
        preds = torch.empty(n, dtype=torch.long, device=x.device)
        exits = torch.full((n,), len(self.branches), dtype=torch.long, device=x.device)
        alive = torch.arange(n, device=x.device)
        exit_at = {p: k for k, p in enumerate(self.positions)}
        for s, stage in enumerate(self.stages):
            if alive.numel() == 0:
                break
            x = stage(x)
            k = exit_at.get(s + 1)
            if k is None:
                continue
            probs = self.branches[k](x).float().softmax(dim=-1)
            leave = confidence(probs, rule) >= thresholds[k]
            preds[alive[leave]] = probs[leave].argmax(dim=-1)
            exits[alive[leave]] = k
            alive, x = alive[~leave], x[~leave]
        if alive.numel():
            preds[alive] = self.head(x).argmax(dim=-1)
        return preds, exits


def build_backbone(backbone: str, options: dict[str, Any] | None, dataset: DatasetShape,
                   pretrained: InputStatistics | None = None) -> EarlyExitNet:
    """The backbone alone (final exit only) as an EarlyExitNet, e.g. to train it once for fast mode.
    ``pretrained``: the dataset's input statistics, to load the weights the options give (see ``build``)."""
    backbone_cls = BACKBONES.get(backbone)
    parts = backbone_cls.build(backbone_cls.canonical_options(options), tuple(dataset.input_shape), dataset.num_classes,
                               pretrained)
    return EarlyExitNet(parts.stages, parts.head, nn.ModuleList(), ())


def build(arch: Architecture, dataset: DatasetShape, pretrained: InputStatistics | None = None) -> EarlyExitNet:
    """Validates ``arch`` for the dataset's input shape and builds its EarlyExitNet (CPU, train mode).

    Weights are random unless ``pretrained`` (the dataset's input statistics, e.g. its DatasetSplits) is
    given and the backbone's options name weights (``torchvision:*``): these are loaded, and the input is
    mapped to their normalisation; callers that load trained weights next need neither."""
    input_shape = tuple(dataset.input_shape)
    validate(arch, input_shape, max_exits=max(len(arch.exits), 1))
    net = build_backbone(arch.backbone, arch.backbone_options, dataset, pretrained)
    shapes = stage_shapes(arch.backbone, arch.backbone_options, input_shape)
    net.branches = nn.ModuleList(
        build_branch(e.branch, shapes[e.position - 1], dataset.num_classes) for e in arch.exits
    )
    net.positions = arch.positions
    return net
