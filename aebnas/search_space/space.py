"""Search spaces over exit branches: presets (``paper``, ``extended``, ``edanas``), sampling,
mutation, and a fixed-width numeric encoding for predictors."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from aebnas.exceptions import InvalidArchitectureError
from aebnas.registry import Registry
from aebnas.search_space.architecture import DEFAULT_MAX_EXITS, Architecture, ExitSpec, branch_shapes, validate
from aebnas.search_space.backbones import BACKBONES, stage_shapes
from aebnas.search_space.layers import LAYER_TYPES, LayerSpec, PaperModule
from aebnas.search_space.costs import MACS, CostModel
from aebnas.search_space.macs import PathCosts

SPACE_VERSION = 1
Rng = np.random.Generator | int | None


@dataclass(frozen=True)
class Preset:
    """A space of exit branches: allowed layer types with their option values, and branch depths.
    ``fixed_branch`` set = every exit uses that branch; only positions are searched."""

    name: str
    description: str
    layers: dict[str, dict[str, tuple]]
    depths: tuple[int, ...]
    fixed_branch: tuple[LayerSpec, ...] | None = None


PRESETS: Registry[Preset] = Registry("search-space preset")
_WIDTHS = (0.5, 1.0, 2.0)
_PAPER_LAYER = {"resize": (8, 10), "kernel": (3, 5), "width": (1.0, 2.0), "pool": (False, True)}
for _preset in (
    Preset("paper", "the AEBNAS exit space: 1-2 paper modules (resize 8/10, conv k3/k5 s2 x1/x2, optional max-pool)",
           {"paper": _PAPER_LAYER}, (1, 2)),
    Preset("extended", "paper modules plus conv, depthwise-separable, MBConv and pooling layers, depth 0-3",
           {
               "paper": _PAPER_LAYER,
               "conv": {"kernel": (1, 3, 5), "width": _WIDTHS, "stride": (1, 2)},
               "dwsep": {"kernel": (3, 5, 7), "width": _WIDTHS, "stride": (1, 2)},
               "mbconv": {"expansion": (3, 6), "kernel": (3, 5), "width": _WIDTHS, "stride": (1, 2)},
               "pool": {"kind": ("max", "avg")},
           }, (0, 1, 2, 3)),
    Preset("edanas", "EDANAS baseline: a fixed branch (one paper module, resize 8, k3, x1); positions only",
           {"paper": {"resize": (8,), "kernel": (3,), "width": (1.0,), "pool": (False,)}}, (1,),
           fixed_branch=(PaperModule(),)),
):
    PRESETS.register(_preset.name)(_preset)


def default_backbone(input_shape: Sequence[int]) -> str:
    """``digits_cnn`` for tiny (<= 8x8) inputs, else ``resnet``."""
    return "digits_cnn" if min(input_shape[1:]) <= 8 else "resnet"


class SearchSpace:
    """Exit-branch configurations of one backbone for one dataset's input shape.

    Args:
        preset: name of a registered preset (``paper``, ``extended``, ``edanas``).
        input_shape: `C x H x W` of the dataset.
        num_classes: classes of the dataset.
        backbone: backbone name (default: by input size); ``backbone_options`` fixed for the search.
        max_exits: most early exits in one network.
        cost: what a path costs (default exact MACs; :class:`aebnas.search_space.costs.LatencyCost` for
            milliseconds of a latency table).
    """

    def __init__(self, preset: str = "extended", input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10,
                 backbone: str | None = None, backbone_options: dict[str, Any] | None = None,
                 max_exits: int = DEFAULT_MAX_EXITS, cost: CostModel = MACS) -> None:
        self.preset = PRESETS.get(preset)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.backbone = backbone or default_backbone(self.input_shape)
        backbone_cls = BACKBONES.get(self.backbone)
        self.backbone_options = backbone_cls.canonical_options(backbone_options)
        if not backbone_cls.fits(self.input_shape):
            raise InvalidArchitectureError(
                f"backbone {self.backbone!r} needs inputs of at least {backbone_cls.min_input_size} pixels a side; "
                f"got {self.input_shape[1]}x{self.input_shape[2]}"
            )
        self.positions = backbone_cls.positions(self.backbone_options)
        limit = max(DEFAULT_MAX_EXITS, len(self.positions))
        if isinstance(max_exits, bool) or not isinstance(max_exits, int) or not 1 <= max_exits <= limit:
            raise InvalidArchitectureError(
                f"max exits must be an integer in 1..{limit} (backbone {self.backbone!r} offers "
                f"{len(self.positions)} exit positions); got {max_exits!r}")
        self.max_exits = min(max_exits, len(self.positions))
        self.stage_shapes = stage_shapes(self.backbone, self.backbone_options, self.input_shape)
        self.layer_types = tuple(self.preset.layers)
        self._options = sorted({o for opts in self.preset.layers.values() for o in opts if o != "kind"})
        self.max_depth = max(self.preset.depths)
        self.cost = cost
        self.stage_costs, self.head_cost = cost.backbone(self.backbone, self.backbone_options, self.input_shape,
                                                         num_classes)

    @classmethod
    def for_dataset(cls, dataset, preset: str = "extended", **kwargs) -> "SearchSpace":
        """The space for a dataset (anything with ``input_shape`` and ``num_classes``)."""
        return cls(preset, dataset.input_shape, dataset.num_classes, **kwargs)

    @property
    def name(self) -> str:
        return self.preset.name

    def describe(self) -> dict[str, Any]:
        """What identifies the space (for run configs and predictor metadata); the cost axis only where it is
        not MACs, so that what was saved before latency costs existed still matches."""
        described = {"preset": self.name, "version": SPACE_VERSION, "backbone": self.backbone,
                     "backbone_options": {k: list(v) if isinstance(v, tuple) else v
                                          for k, v in self.backbone_options.items()},
                     "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                     "max_exits": self.max_exits}
        return described if self.cost == MACS else {**described, "cost": self.cost.name}

    # -- membership ---------------------------------------------------------------------------
    def check(self, arch: Architecture) -> None:
        """Raises InvalidArchitectureError unless ``arch`` is valid and inside this space."""
        if arch.backbone != self.backbone or arch.backbone_options != self.backbone_options:
            raise InvalidArchitectureError(
                f"architecture uses backbone {arch.backbone!r} {arch.backbone_options}; this space has "
                f"{self.backbone!r} {self.backbone_options}"
            )
        validate(arch, self.input_shape, self.max_exits)
        for exit_spec in arch.exits:
            if self.preset.fixed_branch is not None and exit_spec.branch != self.preset.fixed_branch:
                raise InvalidArchitectureError(f"preset {self.name!r} allows only its fixed branch")
            if len(exit_spec.branch) not in self.preset.depths:
                raise InvalidArchitectureError(
                    f"branch depth {len(exit_spec.branch)} not in preset {self.name!r}; allowed: {list(self.preset.depths)}"
                )
            for layer in exit_spec.branch:
                choices = self.preset.layers.get(layer.type)
                if choices is None:
                    raise InvalidArchitectureError(
                        f"layer type {layer.type!r} not in preset {self.name!r}; allowed: {', '.join(self.layer_types)}"
                    )
                for option, values in choices.items():
                    if getattr(layer, option) not in values:
                        raise InvalidArchitectureError(
                            f"layer {layer.type!r}: {option}={getattr(layer, option)!r} not in preset {self.name!r}; "
                            f"allowed: {', '.join(map(repr, values))}"
                        )

    def costs(self, arch: Architecture) -> PathCosts:
        """Per-part and per-exit-path costs of ``arch`` on this space's inputs, in the space's cost unit."""
        return self.cost.paths(arch, self.input_shape, self.num_classes)

    @property
    def backbone_cost(self) -> float:
        """Cost of the backbone alone, without exits (every stage and the final classifier)."""
        return float(sum(self.stage_costs) + self.head_cost)

    def is_valid(self, arch: Architecture) -> bool:
        try:
            self.check(arch)
        except InvalidArchitectureError:
            return False
        return True

    # -- sampling and mutation ----------------------------------------------------------------
    def _random_layer(self, rng: np.random.Generator) -> LayerSpec:
        layer_type = self.layer_types[rng.integers(len(self.layer_types))]
        options = {k: v[rng.integers(len(v))] for k, v in self.preset.layers[layer_type].items()}
        return LAYER_TYPES.get(layer_type)(**{k: v.item() if hasattr(v, "item") else v for k, v in options.items()})

    def _random_branch(self, rng: np.random.Generator) -> tuple[LayerSpec, ...]:
        if self.preset.fixed_branch is not None:
            return self.preset.fixed_branch
        depth = self.preset.depths[rng.integers(len(self.preset.depths))]
        return tuple(self._random_layer(rng) for _ in range(depth))

    def _arch(self, exits: Sequence[ExitSpec]) -> Architecture:
        return Architecture(self.backbone, tuple(sorted(exits, key=lambda e: e.position)), self.backbone_options)

    def _retry(self, make, rng: np.random.Generator, what: str) -> Architecture:
        for _ in range(1000):
            arch = make(rng)
            if arch is not None and self.is_valid(arch):
                return arch
        raise InvalidArchitectureError(f"could not {what} a valid architecture in preset {self.name!r} after 1000 tries")

    def sample(self, rng: Rng = None) -> Architecture:
        """A random valid architecture: 1..max_exits exits at random positions, random branches."""
        rng = np.random.default_rng(rng)

        def make(rng):
            count = int(rng.integers(1, self.max_exits + 1))
            positions = sorted(rng.choice(self.positions, size=count, replace=False).tolist())
            return self._arch([ExitSpec(p, self._random_branch(rng)) for p in positions])

        return self._retry(make, rng, "sample")

    def sample_many(self, n: int, rng: Rng = None, exclude: set[str] = frozenset()) -> list[Architecture]:
        """Up to ``n`` distinct random architectures whose ids are not in ``exclude``."""
        rng = np.random.default_rng(rng)
        seen, archs = set(exclude), []
        for _ in range(20 * n):
            arch = self.sample(rng)
            if arch.id not in seen:
                seen.add(arch.id)
                archs.append(arch)
                if len(archs) == n:
                    break
        return archs

    def mutate(self, arch: Architecture, rng: Rng = None) -> Architecture:
        """A valid neighbour differing by one edit: an exit added, removed or moved, or (unless the
        branch is fixed) a layer added, removed, replaced, or one option changed."""
        rng = np.random.default_rng(rng)
        edits = ["add_exit", "remove_exit", "move_exit"]
        if self.preset.fixed_branch is None:
            edits += ["add_layer", "remove_layer", "replace_layer", "change_option"]

        def make(rng):
            exits = list(arch.exits)
            free = [p for p in self.positions if p not in arch.positions]
            k = int(rng.integers(len(exits)))
            edit = edits[rng.integers(len(edits))]
            branch = list(exits[k].branch)
            if edit == "add_exit" and free and len(exits) < self.max_exits:
                exits.append(ExitSpec(int(rng.choice(free)), self._random_branch(rng)))
            elif edit == "remove_exit" and len(exits) > 1:
                exits.pop(k)
            elif edit == "move_exit" and free:
                exits[k] = ExitSpec(int(rng.choice(free)), exits[k].branch)
            elif edit == "add_layer" and len(branch) < self.max_depth:
                branch.insert(int(rng.integers(len(branch) + 1)), self._random_layer(rng))
            elif edit == "remove_layer" and branch:
                branch.pop(int(rng.integers(len(branch))))
            elif edit == "replace_layer" and branch:
                branch[int(rng.integers(len(branch)))] = self._random_layer(rng)
            elif edit == "change_option" and branch:
                j = int(rng.integers(len(branch)))
                choices = self.preset.layers[branch[j].type]
                option = list(choices)[rng.integers(len(choices))]
                value = choices[option][rng.integers(len(choices[option]))]
                branch[j] = dataclasses.replace(branch[j], **{option: value.item() if hasattr(value, "item") else value})
            else:
                return None
            if edit in ("add_layer", "remove_layer", "replace_layer", "change_option"):
                exits[k] = ExitSpec(exits[k].position, tuple(branch))
            new = self._arch(exits)
            return None if new == arch else new

        return self._retry(make, rng, "mutate into")

    # -- encoding -----------------------------------------------------------------------------
    def feature_names(self) -> list[str]:
        """Names of the ``encode`` columns, in order."""
        names = ["num_exits", "log10_final_macs"]
        for p in self.positions:
            slot = f"pos{p}"
            names += [f"{slot}_on", f"{slot}_depth", f"{slot}_log10_branch_macs", f"{slot}_log10_path_macs",
                      f"{slot}_path_share", f"{slot}_out_channels_ratio", f"{slot}_out_size"]
            for j in range(self.max_depth):
                names += [f"{slot}_l{j}_is_{t}" for t in self.layer_types]
                names += [f"{slot}_l{j}_{o}" for o in self._options]
                if "pool" in self.layer_types:
                    names.append(f"{slot}_l{j}_pool_avg")
        return names

    def encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        """`n x d` float64 features of architectures of this space (d = len(feature_names()))."""
        rows = []
        for arch in archs:
            costs = self.costs(arch)
            row = [len(arch.exits), math.log10(costs.paths[-1])]
            by_position = {e.position: (k, e) for k, e in enumerate(arch.exits)}
            for p in self.positions:
                width = 7 + self.max_depth * (len(self.layer_types) + len(self._options) + ("pool" in self.layer_types))
                if p not in by_position:
                    row += [0.0] * width
                    continue
                k, exit_spec = by_position[p]
                shape = self.stage_shapes[p - 1]
                out_channels, out_size = (branch_shapes(exit_spec.branch, shape) or [(shape[0], min(shape[1:]))])[-1]
                row += [1.0, len(exit_spec.branch), math.log10(costs.branches[k]), math.log10(costs.paths[k]),
                        costs.paths[k] / costs.paths[-1], out_channels / shape[0], out_size]
                for j in range(self.max_depth):
                    layer = exit_spec.branch[j] if j < len(exit_spec.branch) else None
                    row += [float(layer is not None and layer.type == t) for t in self.layer_types]
                    row += [float(getattr(layer, o, 0.0) or 0.0) for o in self._options]
                    if "pool" in self.layer_types:
                        row.append(float(getattr(layer, "kind", None) == "avg"))
            rows.append(row)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.feature_names()))
