"""Architecture specs, layer types, backbones, search spaces and the EarlyExitNet builder."""

from aebnas.search_space.architecture import Architecture, ExitSpec, validate
from aebnas.search_space.backbones import BACKBONES, Backbone, stage_shapes
from aebnas.search_space.layers import LAYER_TYPES, LayerSpec
from aebnas.search_space.model import EarlyExitNet, build, build_backbone
from aebnas.search_space.space import PRESETS, SearchSpace, default_backbone

__all__ = [
    "Architecture", "ExitSpec", "validate", "BACKBONES", "Backbone", "stage_shapes", "LAYER_TYPES", "LayerSpec",
    "EarlyExitNet", "build", "build_backbone", "PRESETS", "SearchSpace", "default_backbone",
]
