"""Architecture specs: a backbone with its options and a list of early exits, each a position and a
branch of layers; JSON round-trip, a stable content hash, and validation against a dataset's shape."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aebnas.exceptions import InvalidArchitectureError
from aebnas.search_space.backbones import BACKBONES, option_key, stage_shapes
from aebnas.search_space.layers import LayerSpec

SPEC_VERSION = 1
DEFAULT_MAX_EXITS = 4


@dataclass(frozen=True)
class ExitSpec:
    """An early exit after backbone stage ``position``; ``branch`` is its layers before global average
    pooling and the linear classifier (empty = a linear exit, SDN-style)."""

    position: int
    branch: tuple[LayerSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "branch", tuple(self.branch))

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "branch": [layer.to_dict() for layer in self.branch]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExitSpec":
        if not isinstance(data, dict) or "position" not in data:
            raise InvalidArchitectureError(f"an exit must be an object with 'position' and 'branch'; got {data!r}")
        unknown = sorted(set(data) - {"position", "branch"})
        if unknown:
            raise InvalidArchitectureError(f"exit: unknown key(s) {', '.join(unknown)}; allowed: position, branch")
        position, branch = data["position"], data.get("branch", [])
        if isinstance(position, bool) or not isinstance(position, int):
            raise InvalidArchitectureError(
                f"exit position must be an integer (the backbone stage the exit follows, e.g. 1); got {position!r}")
        if not isinstance(branch, list):
            raise InvalidArchitectureError(f"exit branch must be a list of layers (or []); got {branch!r}")
        return cls(position, tuple(LayerSpec.from_dict(d) for d in branch))


@dataclass(frozen=True)
class Architecture:
    """An early-exit network: backbone name, its options (defaults filled in), and the early exits in
    order of position. The final classifier of the backbone is always the last exit."""

    backbone: str
    exits: tuple[ExitSpec, ...]
    backbone_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        options = BACKBONES.get(self.backbone).canonical_options(self.backbone_options)
        object.__setattr__(self, "backbone_options", options)
        object.__setattr__(self, "exits", tuple(self.exits))

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(e.position for e in self.exits)

    @property
    def num_exits(self) -> int:
        """Number of exits including the final classifier."""
        return len(self.exits) + 1

    def to_dict(self) -> dict[str, Any]:
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in self.backbone_options.items()}
        return {"backbone": self.backbone, "backbone_options": options, "exits": [e.to_dict() for e in self.exits]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Architecture":
        if not isinstance(data, dict) or "backbone" not in data or "exits" not in data:
            raise InvalidArchitectureError("an architecture must be an object with 'backbone' and 'exits'")
        unknown = sorted(set(data) - {"backbone", "backbone_options", "exits"})
        if unknown:
            raise InvalidArchitectureError(
                f"architecture: unknown key(s) {', '.join(unknown)}; allowed: backbone, backbone_options, exits"
            )
        if not isinstance(data["backbone"], str):
            raise InvalidArchitectureError(
                f"architecture: 'backbone' must be a name ({', '.join(BACKBONES.names())}); got {data['backbone']!r}")
        if not isinstance(data["exits"], list):
            raise InvalidArchitectureError(f"architecture: 'exits' must be a list of exits; got {data['exits']!r}")
        return cls(data["backbone"], tuple(ExitSpec.from_dict(e) for e in data["exits"]), data.get("backbone_options") or {})

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidArchitectureError(f"invalid architecture JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> "Architecture":
        path = Path(path)
        if not path.is_file():
            raise InvalidArchitectureError(f"no such architecture file: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidArchitectureError(f"{path} is not a UTF-8 text file; an architecture is JSON text") from None
        return cls.from_json(text)

    @property
    def id(self) -> str:
        """Stable content hash: the same architecture gives the same id in every process."""
        canonical = json.dumps({"v": SPEC_VERSION, **self.to_dict()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash((self.backbone, option_key(self.backbone_options), self.exits))


def branch_shapes(branch: tuple[LayerSpec, ...], shape: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(channels, size) after each layer of ``branch`` for a `C x H x W` input (square-ish: uses min(H, W))."""
    channels, size = shape[0], min(shape[1:])
    shapes = []
    for layer in branch:
        channels, size = layer.output_shape(channels, size)
        shapes.append((channels, size))
    return shapes


def validate(arch: Architecture, input_shape: tuple[int, int, int], max_exits: int = DEFAULT_MAX_EXITS) -> None:
    """Raises InvalidArchitectureError unless ``arch`` can be built for `C x H x W` inputs."""
    backbone = BACKBONES.get(arch.backbone)
    if not backbone.fits(input_shape):
        raise InvalidArchitectureError(
            f"backbone {arch.backbone!r} needs inputs of at least {backbone.min_input_size}x{backbone.min_input_size}; "
            f"the dataset has {input_shape[1]}x{input_shape[2]}"
        )
    offered = backbone.positions(arch.backbone_options)
    positions = arch.positions
    if not positions:
        raise InvalidArchitectureError("an early-exit network needs at least one early exit")
    if len(positions) > max_exits:
        raise InvalidArchitectureError(f"{len(positions)} early exits; at most {max_exits} allowed")
    if list(positions) != sorted(set(positions)):
        raise InvalidArchitectureError(f"exit positions must be unique and increasing; got {list(positions)}")
    bad = [p for p in positions if p not in offered]
    if bad:
        raise InvalidArchitectureError(
            f"exit position(s) {bad} not offered by backbone {arch.backbone!r}; allowed: {list(offered)}"
        )
    shapes = stage_shapes(arch.backbone, arch.backbone_options, input_shape)
    for exit_spec in arch.exits:
        for index, (_, size) in enumerate(branch_shapes(exit_spec.branch, shapes[exit_spec.position - 1])):
            if size < 1:
                raise InvalidArchitectureError(
                    f"exit at position {exit_spec.position}: layer {index} "
                    f"({exit_spec.branch[index].type}) shrinks the feature map below 1x1"
                )
