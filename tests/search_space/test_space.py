import importlib.util

import numpy as np
import pytest
import torch

from aebnas.search_space.macs import count_macs, path_costs
from aebnas.exceptions import InvalidArchitectureError, UnknownNameError
from aebnas.search_space import BACKBONES, PRESETS, Architecture, ExitSpec, SearchSpace, build
from aebnas.search_space.layers import Conv

SHAPES = {"digits": (1, 8, 8), "mnist_like": (1, 28, 28), "cifar_like": (3, 32, 32)}
#: the built-in backbones, one torchvision model (test_torchvision.py runs every torchvision model) and one timm
#: model where timm is installed (test_timm.py runs a sample)
BATTERY = [b for b in BACKBONES.names() if not b.startswith("torchvision:")] + ["torchvision:mobilenet_v3_small"] + (
    ["timm:mobilenetv3_small_050"] if importlib.util.find_spec("timm") else [])
CASES = [
    (preset, backbone, shape)
    for preset in PRESETS.names()
    for backbone in BATTERY
    for shape in SHAPES
    if BACKBONES.get(backbone).fits(SHAPES[shape])
]


class Info:
    def __init__(self, shape, classes=10):
        self.input_shape, self.num_classes = shape, classes


def small_options(backbone):
    """Smallest options of each backbone so that building many networks stays fast."""
    cls = BACKBONES.get(backbone)
    if "resolution" in cls.options:  # a library's model
        return {"resolution": 32}
    return {k: tuple(cls.choices[k][0] for _ in v) if isinstance(v, tuple) else cls.choices[k][0]
            for k, v in cls.options.items()}


@pytest.mark.parametrize("preset, backbone, shape", CASES)
def test_sample_build_forward_macs(preset, backbone, shape):
    shape = SHAPES[shape]
    space = SearchSpace(preset, shape, 10, backbone=backbone, backbone_options=small_options(backbone))
    rng = np.random.default_rng(0)
    for arch in space.sample_many(3, rng):
        space.check(arch)
        model = build(arch, Info(shape)).eval()
        logits = model(torch.randn(2, *shape))
        assert logits.shape == (2, len(arch.exits) + 1, 10)
        costs = path_costs(arch, shape, 10)
        assert list(costs.paths) == sorted(costs.paths)
        # the whole network's forward runs every stage, branch and head: the final path's cost
        assert count_macs(model, shape) == costs.paths[-1]
        mutant = space.mutate(arch, rng)
        assert mutant != arch and space.is_valid(mutant)


@pytest.mark.parametrize("preset", PRESETS.names())
def test_encoding_has_fixed_width_and_names(preset):
    space = SearchSpace(preset, (1, 8, 8), 10)
    archs = space.sample_many(20, np.random.default_rng(1))
    features = space.encode(archs)
    assert features.shape == (len(archs), len(space.feature_names()))
    assert np.isfinite(features).all()
    if len(archs) > 1:
        assert len({tuple(row) for row in features}) == len(archs)  # distinct architectures, distinct rows


def test_sampling_is_seeded():
    space = SearchSpace("extended", (1, 28, 28), 10)
    first = [a.id for a in space.sample_many(5, 7)]
    assert first == [a.id for a in space.sample_many(5, 7)]
    assert first != [a.id for a in space.sample_many(5, 8)]


def test_preset_membership_is_checked():
    paper = SearchSpace("paper", (1, 8, 8), 10)
    outside = Architecture("digits_cnn", (ExitSpec(1, (Conv(),)),))
    with pytest.raises(InvalidArchitectureError, match="not in preset 'paper'; allowed: paper"):
        paper.check(outside)
    assert SearchSpace("extended", (1, 8, 8), 10).is_valid(outside)
    edanas = SearchSpace("edanas", (1, 8, 8), 10)
    for arch in edanas.sample_many(10, 0):
        assert all(e.branch == PRESETS.get("edanas").fixed_branch for e in arch.exits)


def test_unknown_preset_lists_allowed():
    with pytest.raises(UnknownNameError, match="allowed: paper, extended, edanas"):
        SearchSpace("huge", (1, 8, 8), 10)
