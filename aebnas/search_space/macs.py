"""Exact MACs of early-exit paths, counted with fvcore on each part's own module chain.

One MAC per multiply-add of convolutions, linear layers and matrix products (fvcore's handles for
``aten::_convolution``, ``linear``, ``addmm``, ``mm``, ``matmul``, ``bmm``, ``einsum``). Batch norm,
activations, pooling, resizing and residual additions are not counted: BN folds into the preceding
conv at inference, and the others are elementwise costs far below one MAC per output of a conv.

The cost of leaving at exit k is the backbone up to that exit's stage plus branches 0..k (every
earlier branch ran and declined); the final exit costs the whole backbone, every branch and the head.
Parts are counted one module at a time (a stage, a branch layer, a classifier) and memoised, so the
cost of a pool of thousands of sampled architectures takes a few traces per distinct layer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore uses torch.jit.script at import, deprecated in torch 2.x
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS

from aebnas.search_space.architecture import Architecture, branch_shapes
from aebnas.search_space.backbones import BACKBONES, option_key, stage_shapes
from aebnas.search_space.layers import LayerSpec

MAC_OPS = ("aten::_convolution", "aten::linear", "aten::addmm", "aten::mm", "aten::matmul", "aten::bmm", "aten::einsum")


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Exact MACs of one forward of ``module`` on a single `C x H x W` (or `d`) input."""
    module = module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(module, torch.zeros(1, *input_shape))
        analysis.clear_op_handles()
        analysis.set_op_handle(**{op: _DEFAULT_SUPPORTED_OPS[op] for op in MAC_OPS})
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


@dataclass(frozen=True)
class PathCosts:
    """Costs of an early-exit network's parts and paths, in one cost model's unit (exact MACs as integers,
    or milliseconds of a latency table: :mod:`aebnas.search_space.costs`).

    Attributes:
        stages: `stages` cost of each backbone stage.
        branches: `exits - 1` cost of each early-exit branch (its layers and classifier; with latency, its
            exit check too).
        head: cost of the final classifier.
        paths: `exits` cost of leaving at each exit (increasing).
    """

    stages: tuple[float, ...]
    branches: tuple[float, ...]
    head: float
    paths: tuple[float, ...]


@lru_cache(maxsize=64)
def _backbone_costs(name: str, key: tuple, input_shape: tuple, num_classes: int) -> tuple[tuple[int, ...], int]:
    options = dict(key)
    with torch.random.fork_rng(devices=[]):
        parts = BACKBONES.get(name).build(options, input_shape, num_classes)
    shapes = (input_shape,) + stage_shapes(name, options, input_shape)
    stages = tuple(count_macs(stage, shape) for stage, shape in zip(parts.stages, shapes))
    return stages, count_macs(parts.head, shapes[-1])


def backbone_costs(name: str, options: dict[str, Any], input_shape: Sequence[int],
                   num_classes: int) -> tuple[tuple[int, ...], int]:
    """(MACs of each stage, MACs of the final classifier) of backbone ``name`` with ``options`` for `C x H x W` inputs."""
    return _backbone_costs(name, option_key(options), tuple(input_shape), num_classes)


def backbone_stage_macs(name: str, options: dict[str, Any], input_shape: Sequence[int],
                        num_classes: int) -> tuple[int, ...]:
    """MACs of each stage of backbone ``name`` with ``options`` for `C x H x W` inputs."""
    return backbone_costs(name, options, input_shape, num_classes)[0]


@lru_cache(maxsize=65536)
def _layer_macs(layer: LayerSpec, channels: int, size: int) -> int:
    with torch.random.fork_rng(devices=[]):  # building initialises weights: leave the caller's RNG as it was
        return count_macs(layer.build(channels, size), (channels, size, size))


@lru_cache(maxsize=4096)
def _classifier_macs(channels: int, num_classes: int) -> int:
    with torch.random.fork_rng(devices=[]):
        return count_macs(nn.Linear(channels, num_classes), (channels,))


def branch_macs(branch: Sequence[LayerSpec], shape: tuple[int, int, int], num_classes: int) -> int:
    """MACs of an exit branch (its layers and linear classifier) on a `C x H x W` stage output."""
    channels, size = shape[0], min(shape[1:])
    total = 0
    for layer, (out_channels, out_size) in zip(branch, branch_shapes(tuple(branch), shape)):
        total += _layer_macs(layer, channels, size)
        channels, size = out_channels, out_size
    return total + _classifier_macs(channels, num_classes)


def path_costs(arch: Architecture, input_shape: Sequence[int], num_classes: int) -> PathCosts:
    """Exact per-part and per-exit-path MACs of ``arch`` (assumed valid) for `C x H x W` inputs."""
    input_shape = tuple(input_shape)
    stages, head = _backbone_costs(arch.backbone, option_key(arch.backbone_options), input_shape, num_classes)
    shapes = stage_shapes(arch.backbone, arch.backbone_options, input_shape)
    branches = tuple(branch_macs(e.branch, shapes[e.position - 1], num_classes) for e in arch.exits)
    paths = [sum(stages[: e.position]) + sum(branches[: k + 1]) for k, e in enumerate(arch.exits)]
    paths.append(sum(stages) + sum(branches) + head)
    return PathCosts(stages, branches, head, tuple(paths))

