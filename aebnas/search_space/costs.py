"""Cost models: what each part and exit path of an early-exit network costs, in one unit. ``MACS`` counts
exact multiply-adds (the default, the paper's cost); :class:`LatencyCost` sums the milliseconds of a measured
latency table (``aebnas profile``). A search, its thresholds, budgets, front and reports use one cost model
throughout; every place that needs a path's cost asks the search space (``SearchSpace.costs``), which asks
its cost model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

from aebnas.exceptions import AebnasError
from aebnas.search_space.architecture import Architecture
from aebnas.search_space.latency import LatencyTable
from aebnas.search_space.macs import PathCosts, backbone_costs, path_costs

#: names of the cost axes, for settings and the CLI
COSTS = ("macs", "latency")


class CostModel:
    """Base class. ``name`` is the setting's value (``macs``, ``latency``); ``unit`` labels numbers."""

    name: ClassVar[str]
    unit: ClassVar[str]

    def backbone(self, backbone: str, options: dict, input_shape: Sequence[int],
                 num_classes: int) -> tuple[tuple[float, ...], float]:
        """(cost of each backbone stage, cost of the final classifier) for `C x H x W` inputs."""
        raise NotImplementedError

    def paths(self, arch: Architecture, input_shape: Sequence[int], num_classes: int) -> PathCosts:
        """Per-part and per-exit-path costs of ``arch`` (assumed valid) for `C x H x W` inputs."""
        raise NotImplementedError

    def format(self, value: float) -> str:
        """``value`` with its unit, for messages."""
        return f"{value:.4g} {self.unit}"


@dataclass(frozen=True)
class MacsCost(CostModel):
    """Exact MACs counted with fvcore (:mod:`aebnas.search_space.macs`)."""

    name: ClassVar[str] = "macs"
    unit: ClassVar[str] = "MACs"

    def backbone(self, backbone, options, input_shape, num_classes):
        return backbone_costs(backbone, options, input_shape, num_classes)

    def paths(self, arch, input_shape, num_classes):
        return path_costs(arch, input_shape, num_classes)

    def format(self, value):
        return f"{value:,.0f} MACs"


@dataclass(frozen=True)
class LatencyCost(CostModel):
    """Median milliseconds of the parts in ``table``, summed along each path (exit checks included)."""

    table: LatencyTable
    name: ClassVar[str] = "latency"
    unit: ClassVar[str] = "ms"

    def _check(self, backbone: str, options: dict, input_shape: Sequence[int], num_classes: int) -> None:
        t = self.table
        mine = (t.backbone, t.backbone_options, tuple(t.input_shape), t.num_classes)
        if (backbone, options, tuple(input_shape), num_classes) != mine:
            raise AebnasError(
                f"the latency table was profiled for backbone {t.backbone!r} {t.backbone_options}, inputs "
                f"{'x'.join(map(str, t.input_shape))}, {t.num_classes} classes; this search has {backbone!r} "
                f"{options}, inputs {'x'.join(map(str, input_shape))}, {num_classes} classes: profile this one with "
                "`aebnas profile`")

    def backbone(self, backbone, options, input_shape, num_classes):
        self._check(backbone, options, input_shape, num_classes)
        return tuple(t.median_ms for t in self.table.stages), self.table.head.median_ms

    def paths(self, arch, input_shape, num_classes):
        self._check(arch.backbone, arch.backbone_options, input_shape, num_classes)
        return self.table.path_costs(arch)


MACS = MacsCost()
