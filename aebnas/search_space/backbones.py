"""Backbones: a registry of networks split into stages, with an early exit possible after each
stage but the last (positions 1..stages-1); the last stage feeds the final classifier. Built-in networks,
torchvision's models (``torchvision:NAME``, registered) and timm's (``timm:NAME``, resolved on first use)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
from torchvision.models.resnet import BasicBlock
from torchvision.ops import Conv2dNormActivation

from aebnas.checks import is_choice
from aebnas.exceptions import AebnasError, InvalidArchitectureError
from aebnas.registry import Registry
from aebnas.search_space import _library
from aebnas.search_space import _torchvision as tv
from aebnas.search_space._library import InputStatistics, Library

TIMM_PREFIX = "timm:"  # aebnas.search_space._timm.PREFIX, known without importing timm


@dataclass
class BackboneParts:
    """A built backbone: ``stages`` run in order; ``head`` (global average pooling first) maps the last
    stage to logits. ``pretrained_head``: the head's weights came with the given weights (their classes
    are the dataset's), so it needs no training."""

    stages: nn.ModuleList
    head: nn.Module
    pretrained_head: bool = False


class Backbone:
    """Base class. ``options`` maps each option to its default; ``choices`` to its allowed values
    (for tuple-valued options: allowed values of each element; an option without choices is checked by
    the subclass's ``canonical_options``)."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]]
    choices: ClassVar[dict[str, tuple]]
    min_input_size: ClassVar[int] = 8

    @classmethod
    def canonical_options(cls, options: dict[str, Any] | None) -> dict[str, Any]:
        """Options with defaults filled in, validated; lists become tuples."""
        if options is not None and not isinstance(options, dict):
            raise InvalidArchitectureError(
                f"backbone {cls.name!r}: options must be an object of option: value; got {options!r}")
        merged = dict(cls.options)
        for key, value in (options or {}).items():
            if key not in cls.options:
                raise InvalidArchitectureError(
                    f"backbone {cls.name!r}: unknown option {key!r}; allowed: {', '.join(cls.options)}"
                )
            default = cls.options[key]
            if isinstance(default, tuple) != isinstance(value, (list, tuple)):
                shape = f"a list of {len(default)} values" if isinstance(default, tuple) else "a single value"
                raise InvalidArchitectureError(f"backbone {cls.name!r}: {key} must be {shape}; got {value!r}")
            merged[key] = tuple(value) if isinstance(value, (list, tuple)) else value
        for key, value in merged.items():
            if key not in cls.choices:
                continue
            values = value if isinstance(value, tuple) else (value,)
            if not all(is_choice(v, cls.choices[key]) for v in values):
                raise InvalidArchitectureError(
                    f"backbone {cls.name!r}: {key}={value!r} is not allowed; allowed values: "
                    f"{', '.join(map(repr, cls.choices[key]))}"
                )
            if isinstance(cls.choices[key][0], float):  # canonical: width 1 and 1.0 give the same hash
                merged[key] = tuple(map(float, value)) if isinstance(value, tuple) else float(value)
        cls.check_options(merged)
        return merged

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Cross-option checks (e.g. tuple lengths); raise InvalidArchitectureError."""

    @classmethod
    def num_stages(cls, options: dict[str, Any]) -> int:
        raise NotImplementedError

    @classmethod
    def positions(cls, options: dict[str, Any]) -> tuple[int, ...]:
        """Exit positions offered: after stage p, for p in 1..stages-1."""
        return tuple(range(1, cls.num_stages(options)))

    @classmethod
    def fits(cls, input_shape: tuple[int, int, int]) -> bool:
        return min(input_shape[1:]) >= cls.min_input_size

    @classmethod
    def build(cls, options: dict[str, Any], input_shape: tuple[int, int, int], num_classes: int,
              pretrained: InputStatistics | None = None) -> BackboneParts:
        """The parts, randomly initialised; with ``pretrained`` (the dataset's input statistics), the weights
        the options name are loaded and the input mapped to their normalisation (backbones that take weights)."""
        raise NotImplementedError

    @classmethod
    def weights_identity(cls, options: dict[str, Any]) -> str | None:
        """What identifies the weights the options give (an enum name, a file's sha256), or None: the
        backbone is trained from scratch."""
        return None

    @classmethod
    def fine_tunes(cls, options: dict[str, Any]) -> bool:
        """Whether fast mode fine-tunes given weights (every layer) before freezing them, instead of
        training only a new head on the frozen backbone."""
        return False


BACKBONES: Registry[type[Backbone]] = Registry("backbone", tv.explain_unknown)


def _classifier(channels: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Module:
    return Conv2dNormActivation(cin, cout, 3, stride, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU)


@BACKBONES.register("digits_cnn")
class DigitsCNN(Backbone):
    """A 4-stage CNN for 8x8 inputs: widths w, 2w (stride 2), 2w, 4w (stride 2)."""

    name = "digits_cnn"
    options = {"width": 16}
    choices = {"width": (8, 16, 32)}

    @classmethod
    def num_stages(cls, options):
        return 4

    @classmethod
    def build(cls, options, input_shape, num_classes, pretrained=None):
        w = options["width"]
        stages = nn.ModuleList([
            _conv_bn_relu(input_shape[0], w),
            _conv_bn_relu(w, 2 * w, stride=2),
            _conv_bn_relu(2 * w, 2 * w),
            _conv_bn_relu(2 * w, 4 * w, stride=2),
        ])
        return BackboneParts(stages, _classifier(4 * w, num_classes))


@BACKBONES.register("resnet")
class CifarResNet(Backbone):
    """CIFAR-style ResNet (He et al. 2016): a 3x3 stem and ``stages`` stages of ``depth`` basic
    blocks, widths w, 2w, 4w(, 8w), each after the first halving the resolution. depth 3 = ResNet-20."""

    name = "resnet"
    options = {"depth": 3, "width": 16, "stages": 3}
    choices = {"depth": (1, 2, 3, 5, 7, 9), "width": (8, 16, 32, 64), "stages": (3, 4)}

    @classmethod
    def num_stages(cls, options):
        return options["stages"]

    @classmethod
    def build(cls, options, input_shape, num_classes, pretrained=None):
        width, depth = options["width"], options["depth"]
        stages, cin = [], width
        for s in range(options["stages"]):
            cout, stride = width * 2**s, 1 if s == 0 else 2
            blocks = [_conv_bn_relu(input_shape[0], width)] if s == 0 else []
            for b in range(depth):
                down = None
                if b == 0 and (stride != 1 or cin != cout):
                    down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                blocks.append(BasicBlock(cin, cout, stride if b == 0 else 1, downsample=down))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        return BackboneParts(nn.ModuleList(stages), _classifier(cin, num_classes))


@BACKBONES.register("mobilenetv3")
class MobileNetV3(Backbone):
    """MobileNetV3-style backbone (the once-for-all space of the AEBNAS paper), sized for small inputs:
    a 3x3 stem (16 ch) and 5 stages of torchvision InvertedResidual blocks with per-stage depth,
    kernel and expansion; stage widths 24, 40, 80, 112, 160 times ``width``, strides 1, 2, 2, 1, 2."""

    name = "mobilenetv3"
    options = {"depths": (2, 2, 2, 2, 2), "kernels": (3, 3, 3, 3, 3), "expansions": (4, 4, 4, 4, 4), "width": 1.0}
    choices = {"depths": (2, 3, 4), "kernels": (3, 5, 7), "expansions": (3, 4, 6), "width": (0.5, 0.75, 1.0)}
    min_input_size = 16
    widths = (24, 40, 80, 112, 160)
    strides = (1, 2, 2, 1, 2)
    use_se = (False, True, False, True, True)
    activations = ("RE", "RE", "HS", "HS", "HS")

    @classmethod
    def check_options(cls, options):
        for key in ("depths", "kernels", "expansions"):
            if not isinstance(options[key], tuple) or len(options[key]) != len(cls.widths):
                raise InvalidArchitectureError(
                    f"backbone {cls.name!r}: {key} must list {len(cls.widths)} values (one per stage); got {options[key]!r}"
                )

    @classmethod
    def num_stages(cls, options):
        return len(cls.widths)

    @classmethod
    def build(cls, options, input_shape, num_classes, pretrained=None):
        mult = options["width"]
        stem_ch = InvertedResidualConfig.adjust_channels(16, mult)
        cin, stages = 16, []
        for s, width in enumerate(cls.widths):
            blocks = [Conv2dNormActivation(input_shape[0], stem_ch, 3, 1, norm_layer=nn.BatchNorm2d,
                                           activation_layer=nn.Hardswish)] if s == 0 else []
            for b in range(options["depths"][s]):
                config = InvertedResidualConfig(
                    cin, options["kernels"][s], cin * options["expansions"][s], width, cls.use_se[s],
                    cls.activations[s], cls.strides[s] if b == 0 else 1, 1, mult,
                )
                blocks.append(InvertedResidual(config, norm_layer=nn.BatchNorm2d))
                cin = width
            stages.append(nn.Sequential(*blocks))
        return BackboneParts(nn.ModuleList(stages), _classifier(InvertedResidualConfig.adjust_channels(cin, mult), num_classes))


class LibraryBackbone(Backbone):
    """A model of a library, split into stages by the library's module (``library``: the functions of
    aebnas.search_space._library.Library). Options: ``resolution`` (inputs are resized to it, in stage 1),
    ``weights`` (None: from scratch; ``DEFAULT`` or a weights name of the library: its pretrained weights; a
    path: a state dict or saved module of the model) and ``adapt`` (fast mode with weights: ``head`` trains
    only the new head on the frozen backbone; ``all`` fine-tunes every layer first)."""

    model: ClassVar[str]
    library: ClassVar[Library]
    options = {"resolution": 64, "weights": None, "adapt": "head"}
    choices = {"adapt": _library.ADAPT}
    min_input_size = 1

    @classmethod
    def canonical_options(cls, options):
        merged = super().canonical_options(options)
        _library.check_resolution(cls.name, merged["resolution"], cls.library.min_resolution(cls.model))
        merged["weights"] = _library.check_weights(cls.library, cls.model, merged["weights"])
        return merged

    @classmethod
    def num_stages(cls, options):
        return cls.library.num_stages(cls.model)

    @classmethod
    def weights_identity(cls, options):
        return _library.weights_identity(cls.library, cls.model, options["weights"])

    @classmethod
    def fine_tunes(cls, options):
        return options["weights"] is not None and options["adapt"] == "all"

    @classmethod
    def build(cls, options, input_shape, num_classes, pretrained=None):
        model = cls.library.create(cls.model, num_classes)
        if options["weights"] is None:
            _library.default_bn_momentum(model)
        adapter = _library.InputAdapter(input_shape[0], options["resolution"])
        pretrained_head = False
        if pretrained is not None and options["weights"] is not None:
            pretrained_head = _library.load_weights(cls.library, cls.model, model, options["weights"])
            adapter.set_statistics(pretrained, *cls.library.normalisation(cls.model, options["weights"]))
        stages, head = cls.library.split(cls.model, model)
        stages[0] = [adapter, *stages[0]]
        return BackboneParts(nn.ModuleList(nn.Sequential(*s) for s in stages), head, pretrained_head)


class TorchvisionBackbone(LibraryBackbone):
    """A torchvision classification model (``torchvision:NAME``), split into stages at its block groups
    (aebnas.search_space._torchvision); weights names are its torchvision weights enum's."""

    library = tv


for _model in tv.MODELS:
    BACKBONES.register(tv.PREFIX + _model)(
        type(f"Torchvision_{_model}", (TorchvisionBackbone,), {"name": tv.PREFIX + _model, "model": _model}))


class TimmBackbone(LibraryBackbone):
    """A timm model (``timm:NAME``), split into stages at its ``features_only`` outputs
    (aebnas.search_space._timm); weights names are its pretrained tags in timm."""


def timm_backbone(name: str) -> type[Backbone]:
    """The backbone class of ``timm:MODEL``, made on first use (timm, an optional dependency, imported then)."""
    try:
        from aebnas.search_space import _timm
    except ModuleNotFoundError as err:
        if err.name != "timm":
            raise
        raise AebnasError(f"backbone {name!r} needs timm, which is not installed: pip install 'aebnas[timm]'") from None
    model = _timm.resolve(name.removeprefix(TIMM_PREFIX))
    return type(f"Timm_{model}", (TimmBackbone,), {"name": name, "model": model, "library": _timm})


BACKBONES.register_prefix(TIMM_PREFIX, timm_backbone, "a timm model, split at its features_only stage outputs")


def option_key(options: dict[str, Any]) -> tuple:
    """A hashable, order-independent key of canonical options."""
    return tuple(sorted(options.items()))


@lru_cache(maxsize=256)
def _stage_shapes(name: str, key: tuple, input_shape: tuple[int, int, int]) -> tuple[tuple[int, int, int], ...]:
    with torch.random.fork_rng(devices=[]):  # a dry run: leave the caller's RNG as it was
        parts = BACKBONES.get(name).build(dict(key), input_shape, num_classes=2)
    x = torch.zeros(1, *input_shape)
    shapes = []
    with torch.no_grad():
        for stage in parts.stages.eval():
            x = stage(x)
            shapes.append(tuple(x.shape[1:]))
    return tuple(shapes)


def stage_shapes(name: str, options: dict[str, Any], input_shape: tuple[int, int, int]) -> tuple[tuple[int, int, int], ...]:
    """`C x H x W` output shape of each stage of a backbone (memoised dry run)."""
    return _stage_shapes(name, option_key(options), tuple(input_shape))
