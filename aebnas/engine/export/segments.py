"""An EarlyExitNet cut into the segments a runtime runs one after another: the backbone stages between
consecutive exits, each early-exit branch with its exit check, and the final head."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from aebnas.exit_rules import confidence
from aebnas.runtime import Segment
from aebnas.search_space import Architecture, EarlyExitNet, PathCosts, stage_shapes


class ExitBranch(nn.Module):
    """An early-exit branch ending in its exit rule's score: `batch x C x H x W` features -> (`batch x classes`
    softmax probabilities, `batch` confidence scores), computed as ``EarlyExitNet.infer`` computes them."""

    def __init__(self, branch: nn.Module, rule: str) -> None:
        super().__init__()
        self.branch = branch
        self.rule = rule

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        probs = self.branch(x).float().softmax(dim=-1)
        return probs, confidence(probs, self.rule)


@dataclass(frozen=True)
class SegmentModule:
    """A segment's manifest record, its module (eval mode) and the names of its outputs."""

    spec: Segment
    module: nn.Module
    outputs: tuple[str, ...]


def split_network(model: EarlyExitNet, arch: Architecture, costs: PathCosts, input_shape: tuple[int, int, int],
                  rule: str, suffix: str) -> list[SegmentModule]:
    """``model`` (the network of ``arch``, with exact ``costs``) as segments in run order; files are named
    ``NN-<part><suffix>``."""
    shapes = (tuple(input_shape),) + stage_shapes(arch.backbone, arch.backbone_options, input_shape)
    model = model.eval()
    parts: list[SegmentModule] = []

    def add(name: str, module: nn.Module, outputs: tuple[str, ...], **spec) -> None:
        file = f"{len(parts):02d}-{name}{suffix}"
        parts.append(SegmentModule(Segment(file=file, **spec), module.eval(), outputs))

    first = 1
    for k, position in enumerate(arch.positions):
        add(f"stages-{first}-{position}", nn.Sequential(*model.stages[first - 1:position]), ("features",),
            kind="stages", input_shape=shapes[first - 1], macs=sum(costs.stages[first - 1:position]),
            stages=(first, position))
        add(f"exit-{k}", ExitBranch(model.branches[k], rule), ("probs", "scores"), kind="branch",
            input_shape=shapes[position], macs=costs.branches[k], exit=k)
        first = position + 1
    last = len(model.stages)
    add(f"stages-{first}-{last}", nn.Sequential(*model.stages[first - 1:]), ("features",), kind="stages",
        input_shape=shapes[first - 1], macs=sum(costs.stages[first - 1:]), stages=(first, last))
    add("head", model.head, ("logits",), kind="head", input_shape=shapes[-1], macs=costs.head, exit=len(arch.exits))
    return parts
