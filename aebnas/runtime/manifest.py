"""The manifest of an exported early-exit network: its segments in run order, exits, thresholds, exit rule,
exact path MACs, input shape and normalisation; JSON with a format version, read with one clear error per
problem."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aebnas.checks import read_json_document
from aebnas.exceptions import AebnasError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "aebnas-export"
MANIFEST_VERSION = 1
SEGMENT_KINDS = ("stages", "branch", "head")


class ManifestError(AebnasError):
    """A manifest that is missing, unreadable, of another version, or inconsistent."""


def _json_float(value: float) -> float | str:
    """``value``, with +inf as the string 'inf' (strict JSON has no infinity)."""
    return "inf" if value == math.inf else value


@dataclass(frozen=True)
class Segment:
    """One exported part, run in manifest order.

    Attributes:
        kind: ``stages`` (backbone stages ``stages[0]..stages[1]``, 1-based, inclusive: `batch x C x H x W` in,
            the last stage's features out), ``branch`` (early exit ``exit``: features in; `batch x classes`
            softmax probabilities and `batch` exit-rule scores out) or ``head`` (the final exit ``exit``:
            `batch x classes` logits out).
        file: the model file, relative to the export directory.
        input_shape: `C x H x W` of one sample's input.
        macs: exact MACs of one sample through this segment.
        stages: the stages of a ``stages`` segment (None otherwise).
        exit: the exit index of a ``branch`` or ``head`` segment (None otherwise).
    """

    kind: str
    file: str
    input_shape: tuple[int, int, int]
    macs: int
    stages: tuple[int, int] | None = None
    exit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "input_shape": list(self.input_shape), "macs": self.macs,
                "stages": list(self.stages) if self.stages else None, "exit": self.exit}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Segment":
        if d["kind"] not in SEGMENT_KINDS:
            raise ValueError(f"segment kind {d['kind']!r} is none of {', '.join(SEGMENT_KINDS)}")
        stages = tuple(map(int, d["stages"])) if d["stages"] is not None else None
        return cls(str(d["kind"]), str(d["file"]), tuple(int(v) for v in d["input_shape"]), int(d["macs"]), stages,
                   None if d["exit"] is None else int(d["exit"]))


@dataclass(frozen=True)
class Measured:
    """What the exported artefact measured on the run's test split with its thresholds.

    Attributes:
        accuracy: accuracy in [0, 1].
        avg_macs: average MACs per sample.
        exit_fractions: `exits` fraction of the samples leaving at each exit.
        agrees: whether every prediction and exit index equals ``EarlyExitNet.infer`` in PyTorch.
    """

    accuracy: float
    avg_macs: float
    exit_fractions: tuple[float, ...]
    agrees: bool

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "avg_macs": self.avg_macs, "exit_fractions": list(self.exit_fractions),
                "agrees": self.agrees}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Measured":
        return cls(float(d["accuracy"]), float(d["avg_macs"]), tuple(map(float, d["exit_fractions"])),
                   bool(d["agrees"]))


@dataclass(frozen=True)
class Latency:
    """Path latency from a latency table (``aebnas profile``: eager PyTorch parts, summed), where measured.

    Attributes:
        paths_ms: `exits` milliseconds of leaving at each exit.
        device, batch: where and at which batch size the parts were timed.
        composition_error: the table's mean |summed / whole - 1| over whole paths (None if not checked).
    """

    paths_ms: tuple[float, ...]
    device: str
    batch: int
    composition_error: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"paths_ms": list(self.paths_ms), "device": self.device, "batch": self.batch,
                "composition_error": self.composition_error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Latency":
        error = d["composition_error"]
        return cls(tuple(map(float, d["paths_ms"])), str(d["device"]), int(d["batch"]),
                   None if error is None else float(error))


@dataclass(frozen=True)
class Manifest:
    """An exported early-exit network. A sample leaves at the first early exit whose score under ``rule``
    is >= its threshold, else at the final exit; leaving at exit k costs ``path_macs[k]``.

    Attributes:
        format: the model files' format (``onnx`` or ``torchscript``).
        segments: the parts in run order (stages, then the branch of the exit after them, ..., the head).
        positions: `exits - 1` backbone stage after which each early exit sits (1-based).
        thresholds: `exits - 1` thresholds of the early exits (+inf: never exit there).
        rule: the exit rule (computed inside each branch segment).
        path_macs: `exits` exact MACs of leaving at each exit.
        input_shape: `C x H x W` of one image.
        mean, std: `C` per-channel normalisation applied to raw images: ``(x - mean) / std``.
        num_classes: number of classes.
        dataset: the dataset the network was trained on.
        architecture: the architecture spec (``Architecture.to_dict()``); arch_id its content hash.
        source: where it came from, e.g. ``confirmed 83051ae43852d3c8 of runs/demo``.
        test: what the artefact measured on the run's test split (None before it is measured).
        latency: path latency from a latency table, if one was given.
        aebnas_version: the aebnas version that exported it.
        version: the manifest format version.
    """

    format: str
    segments: tuple[Segment, ...]
    positions: tuple[int, ...]
    thresholds: tuple[float, ...]
    rule: str
    path_macs: tuple[int, ...]
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    dataset: str
    architecture: dict[str, Any]
    arch_id: str
    source: str
    test: Measured | None
    aebnas_version: str
    latency: Latency | None = None
    version: int = MANIFEST_VERSION

    @property
    def num_exits(self) -> int:
        return len(self.path_macs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_name": MANIFEST_FORMAT, "version": self.version, "aebnas_version": self.aebnas_version,
            "format": self.format, "segments": [s.to_dict() for s in self.segments],
            "positions": list(self.positions), "thresholds": [_json_float(t) for t in self.thresholds],
            "rule": self.rule, "path_macs": list(self.path_macs), "input_shape": list(self.input_shape),
            "mean": list(self.mean), "std": list(self.std), "num_classes": self.num_classes,
            "dataset": self.dataset, "architecture": self.architecture, "arch_id": self.arch_id,
            "source": self.source, "test": self.test.to_dict() if self.test else None,
            "latency": self.latency.to_dict() if self.latency else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Manifest":
        return cls(
            str(d["format"]), tuple(Segment.from_dict(s) for s in d["segments"]), tuple(map(int, d["positions"])),
            tuple(float(t) for t in d["thresholds"]), str(d["rule"]), tuple(map(int, d["path_macs"])),
            tuple(map(int, d["input_shape"])), tuple(map(float, d["mean"])), tuple(map(float, d["std"])),
            int(d["num_classes"]), str(d["dataset"]), dict(d["architecture"]), str(d["arch_id"]), str(d["source"]),
            Measured.from_dict(d["test"]) if d["test"] is not None else None, str(d["aebnas_version"]),
            Latency.from_dict(d["latency"]) if d["latency"] is not None else None, int(d["version"]))

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / MANIFEST_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "Manifest":
        """The manifest of the export in ``directory``; a ManifestError names what is wrong with it."""
        path = Path(directory) / MANIFEST_FILE
        if not path.is_file():
            raise ManifestError(f"{directory} holds no exported network (no {MANIFEST_FILE}); make one with "
                                "`aebnas export RUN_DIR --format onnx --out DIR`")
        data = read_json_document(path, "format_name", MANIFEST_FORMAT, MANIFEST_VERSION, "export manifest",
                                  "export the network again with this aebnas", ManifestError)
        try:
            manifest = cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ManifestError(f"{path} is damaged ({type(err).__name__}: {err}); export the network again") from None
        manifest.check()
        return manifest

    def check(self) -> None:
        """Raises ManifestError unless the segments, exits and thresholds fit together."""
        early = len(self.positions)
        kinds = [s.kind for s in self.segments]
        exits = [s.exit for s in self.segments if s.kind != "stages"]
        if (len(self.thresholds) != early or self.num_exits != early + 1 or exits != list(range(early + 1))
                or kinds.count("head") != 1 or kinds[-1] != "head" or len(self.mean) != self.input_shape[0]
                or len(self.std) != self.input_shape[0]
                or (self.latency is not None and len(self.latency.paths_ms) != self.num_exits)):
            raise ManifestError(f"manifest of {self.arch_id}: {early} early exits, {len(self.thresholds)} thresholds, "
                                f"{self.num_exits} path costs (and latencies) and segments {kinds} do not fit "
                                "together; export the network again")
