"""Exit rules: per-exit confidence scores from softmax probabilities; a sample exits at the first
early exit whose score is >= that exit's threshold (a threshold of +inf never exits)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from aebnas.registry import Registry

ExitRule = Callable[[Tensor], Tensor]
EXIT_RULES: Registry[ExitRule] = Registry("exit rule")


@EXIT_RULES.register("margin")
def margin(probs: Tensor) -> Tensor:
    """Top-1 minus top-2 probability (the AEBNAS paper's rule). `... x classes` -> `...`."""
    top2 = probs.topk(2, dim=-1).values
    return top2[..., 0] - top2[..., 1]


@EXIT_RULES.register("max_softmax")
def max_softmax(probs: Tensor) -> Tensor:
    """Largest class probability. `... x classes` -> `...`."""
    return probs.max(dim=-1).values


@EXIT_RULES.register("entropy")
def normalised_negentropy(probs: Tensor) -> Tensor:
    """1 - H(p) / log(classes), in [0, 1] (BranchyNet's entropy rule as a confidence).
    `... x classes` -> `...`."""
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(dim=-1)
    return 1.0 - entropy / math.log(probs.shape[-1])


def confidence(probs: Tensor, rule: str = "margin") -> Tensor:
    """Scores of ``rule`` for `... x classes` probabilities -> `...` (higher = more confident)."""
    return EXIT_RULES.get(rule)(probs.float())


def first_exit(scores: Tensor, thresholds: Tensor) -> Tensor:
    """Index of the exit each sample leaves at.

    Args:
        scores: `n x exits` confidences (the last exit's score is ignored: it always takes the rest).
        thresholds: `(exits - 1)` or `m x (exits - 1)` early-exit thresholds.
    Returns:
        `n` (or `m x n`) int64 exit indices.
    """
    early = scores[..., :-1]
    if thresholds.dim() == 2:
        early = early.unsqueeze(0)
        thresholds = thresholds.unsqueeze(1)
    leave = early >= thresholds.to(early.dtype)
    leave = torch.cat([leave, leave.new_ones(leave.shape[:-1] + (1,))], dim=-1)
    return leave.to(torch.uint8).argmax(dim=-1)
