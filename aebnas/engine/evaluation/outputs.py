"""Cached per-exit outputs of a trained network, so threshold tuning never runs the network again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from aebnas.exit_rules import confidence


@dataclass(frozen=True)
class ExitOutputs:
    """Per-exit logits of one split.

    Attributes:
        logits: `n x exits x classes` float32 logits; the last exit is the final one.
        labels: `n` int64 labels.
    """

    logits: Tensor
    labels: Tensor

    @property
    def num_exits(self) -> int:
        return self.logits.shape[1]

    def probabilities(self) -> Tensor:
        """`n x exits x classes` float32 softmax probabilities."""
        return self.logits.float().softmax(dim=-1)

    def correct(self) -> Tensor:
        """`n x exits` bool: whether each exit's top-1 prediction is right."""
        return self.logits.float().argmax(dim=-1) == self.labels.unsqueeze(1)

    def scores(self, rule: str = "margin") -> Tensor:
        """`n x exits` confidence scores of ``rule``."""
        return confidence(self.probabilities(), rule)

    def exit_accuracy(self) -> Tensor:
        """`exits` accuracy of each exit taken alone."""
        return self.correct().float().mean(dim=0)


@dataclass(frozen=True)
class CandidateOutputs:
    """A trained candidate's cached outputs on the validation and test splits."""

    val: ExitOutputs
    test: ExitOutputs

    def save(self, path: str | Path) -> None:
        torch.save(
            {
                "val_logits": self.val.logits,
                "val_labels": self.val.labels,
                "test_logits": self.test.logits,
                "test_labels": self.test.labels,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> "CandidateOutputs":
        data = torch.load(path, map_location="cpu", weights_only=True)
        return cls(
            val=ExitOutputs(data["val_logits"], data["val_labels"]),
            test=ExitOutputs(data["test_logits"], data["test_labels"]),
        )
