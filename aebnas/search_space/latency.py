"""Latency of early-exit paths composed from a table of measured parts, as MACs are composed from counted
parts: leaving at exit k costs the backbone stages up to its position, and branches 0..k each with its exit
check; the final exit costs every stage, every branch and check, and the head. ``aebnas profile`` measures
the table (``aebnas.engine.profile``); this module reads, writes and sums it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from aebnas.checks import read_json_document
from aebnas.exceptions import AebnasError
from aebnas.search_space.architecture import Architecture, branch_shapes
from aebnas.search_space.backbones import BACKBONES, stage_shapes
from aebnas.search_space.layers import LayerSpec
from aebnas.search_space.macs import PathCosts

LATENCY_FORMAT = "aebnas-latency-table"
LATENCY_VERSION = 1


def layer_key(layer: LayerSpec, channels: int, size: int) -> str:
    """The table key of ``layer`` on a `channels x size x size` input."""
    return f"{json.dumps(layer.to_dict(), sort_keys=True, separators=(',', ':'))}@{channels}x{size}"


def classifier_key(channels: int, size: int) -> str:
    """The table key of a branch's classifier (global average pooling and linear) on `channels x size x size`."""
    return f"{channels}x{size}"


@dataclass(frozen=True)
class Timing:
    """A part's measured latency per call: median and inter-quartile range, in milliseconds."""

    median_ms: float
    iqr_ms: float

    def to_dict(self) -> dict[str, float]:
        return {"median_ms": self.median_ms, "iqr_ms": self.iqr_ms}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> "Timing":
        return cls(float(d["median_ms"]), float(d["iqr_ms"]))


@dataclass(frozen=True)
class Composition:
    """Summed parts against whole paths measured end to end.

    Attributes:
        paths: how many exit paths were measured whole.
        mean_abs_error, max_abs_error: relative error of the summed latency, |sum / whole - 1|.
    """

    paths: int
    mean_abs_error: float
    max_abs_error: float

    def to_dict(self) -> dict[str, float]:
        return {"paths": self.paths, "mean_abs_error": self.mean_abs_error, "max_abs_error": self.max_abs_error}


@dataclass(frozen=True)
class LatencyTable:
    """Measured latency of every part a search space combines, for one backbone, input shape, device and batch.

    Attributes:
        stages: `stages` timing of each backbone stage; head: the final classifier.
        layers: branch layer timings by :func:`layer_key`; classifiers: branch classifiers by :func:`classifier_key`.
        exit_check: softmax and the exit rule's score on `batch x classes` logits.
        composition: the check of summed parts against whole paths (None before it is made).
        runtime: how the parts ran while timed (``eager`` PyTorch, or traced to ``torchscript``).
    """

    backbone: str
    backbone_options: dict[str, Any]
    input_shape: tuple[int, int, int]
    num_classes: int
    device: str
    batch: int
    rule: str
    stages: tuple[Timing, ...]
    head: Timing
    layers: dict[str, Timing]
    classifiers: dict[str, Timing]
    exit_check: Timing
    composition: Composition | None = None
    runtime: str = "eager"

    def path_costs(self, arch: Architecture) -> PathCosts:
        """Median milliseconds of ``arch``'s parts and of leaving at each exit (summed parts; each branch
        with its exit check)."""
        if arch.backbone != self.backbone or arch.backbone_options != self.backbone_options:
            raise AebnasError(f"the latency table is for backbone {self.backbone!r} {self.backbone_options}; "
                              f"architecture {arch.id} uses {arch.backbone!r} {arch.backbone_options}")
        shapes = stage_shapes(arch.backbone, arch.backbone_options, self.input_shape)
        stages = [t.median_ms for t in self.stages]
        branches = [self._branch_ms(e.branch, shapes[e.position - 1]) for e in arch.exits]
        paths = [sum(stages[:e.position]) + sum(branches[:k + 1]) for k, e in enumerate(arch.exits)]
        paths.append(sum(stages) + sum(branches) + self.head.median_ms)
        return PathCosts(tuple(stages), tuple(branches), self.head.median_ms, tuple(paths))

    def _branch_ms(self, branch: Sequence[LayerSpec], shape: tuple[int, int, int]) -> float:
        """A branch's layers, classifier and exit check, in ms."""
        channels, size = shape[0], min(shape[1:])
        total = self.exit_check.median_ms
        for layer, (out_channels, out_size) in zip(branch, branch_shapes(tuple(branch), shape)):
            total += self._part(self.layers, layer_key(layer, channels, size))
            channels, size = out_channels, out_size
        return total + self._part(self.classifiers, classifier_key(channels, size))

    @staticmethod
    def _part(parts: dict[str, Timing], key: str) -> float:
        if key not in parts:
            raise AebnasError(f"the latency table has no part {key}: it was profiled for another search space; "
                              "profile this one with `aebnas profile`")
        return parts[key].median_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LATENCY_FORMAT, "version": LATENCY_VERSION, "backbone": self.backbone,
            "backbone_options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.backbone_options.items()},
            "input_shape": list(self.input_shape), "num_classes": self.num_classes, "device": self.device,
            "batch": self.batch, "rule": self.rule, "stages": [t.to_dict() for t in self.stages],
            "head": self.head.to_dict(), "layers": {k: t.to_dict() for k, t in self.layers.items()},
            "classifiers": {k: t.to_dict() for k, t in self.classifiers.items()},
            "exit_check": self.exit_check.to_dict(),
            "composition": self.composition.to_dict() if self.composition else None, "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyTable":
        composition = d["composition"]
        return cls(
            str(d["backbone"]), BACKBONES.get(str(d["backbone"])).canonical_options(d["backbone_options"]),
            tuple(map(int, d["input_shape"])), int(d["num_classes"]),
            str(d["device"]), int(d["batch"]), str(d["rule"]), tuple(Timing.from_dict(t) for t in d["stages"]),
            Timing.from_dict(d["head"]), {k: Timing.from_dict(t) for k, t in d["layers"].items()},
            {k: Timing.from_dict(t) for k, t in d["classifiers"].items()}, Timing.from_dict(d["exit_check"]),
            Composition(**composition) if composition else None, str(d.get("runtime", "eager")))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        """The table in ``path``; one clear AebnasError if it is missing, foreign, of another version or damaged."""
        path = Path(path)
        if not path.is_file():
            raise AebnasError(f"no such latency table: {path}; make one with `aebnas profile --out {path}`")
        data = read_json_document(path, "format", LATENCY_FORMAT, LATENCY_VERSION, "latency table",
                                  "profile again with `aebnas profile`")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise AebnasError(f"{path} is damaged ({type(err).__name__}: {err}); profile again") from None
