"""Architecture specs, layer types, backbones, exact MACs, search spaces and the EarlyExitNet builder."""

from aebnas.search_space.architecture import Architecture, ExitSpec, validate
from aebnas.search_space.backbones import BACKBONES, Backbone, stage_shapes
from aebnas.search_space.costs import COSTS, MACS, CostModel, LatencyCost
from aebnas.search_space.layers import LAYER_TYPES, LayerSpec
from aebnas.search_space.macs import PathCosts, backbone_stage_macs, count_macs, path_costs
from aebnas.search_space.model import EarlyExitNet, build, build_backbone
from aebnas.search_space.space import PRESETS, SearchSpace, default_backbone


def list_backbones() -> list[str]:
    """Names of the registered backbones."""
    return BACKBONES.names()


def list_presets() -> list[str]:
    """Names of the registered search-space presets."""
    return PRESETS.names()


__all__ = [
    "Architecture", "ExitSpec", "validate", "BACKBONES", "Backbone", "stage_shapes", "LAYER_TYPES", "LayerSpec",
    "COSTS", "MACS", "CostModel", "LatencyCost", "PathCosts", "backbone_stage_macs", "count_macs", "path_costs", "EarlyExitNet", "build", "build_backbone",
    "PRESETS", "SearchSpace",
    "default_backbone", "list_backbones", "list_presets",
]
