"""Exit-branch layer types: frozen specs that validate their options and build nn.Modules.

Every layer type is registered in ``LAYER_TYPES`` under its JSON ``type`` name; its fields are its
options, each restricted to the values in ``choices``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn
from torchvision.ops import Conv2dNormActivation

from aebnas.checks import is_choice
from aebnas.exceptions import InvalidArchitectureError
from aebnas.registry import Registry

WIDTHS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
KERNELS = (1, 3, 5, 7)


@dataclass(frozen=True)
class LayerSpec:
    """Base class of layer specs. Subclasses declare ``type`` and ``choices`` (allowed option values)."""

    type: ClassVar[str]
    choices: ClassVar[dict[str, tuple]]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            allowed = self.choices[field.name]
            if not is_choice(value, allowed):
                raise InvalidArchitectureError(
                    f"layer {self.type!r}: {field.name}={value!r} is not allowed; "
                    f"allowed: {', '.join(map(repr, allowed))}"
                )
            if isinstance(allowed[0], float):  # canonical: width 1 and 1.0 give the same spec and hash
                object.__setattr__(self, field.name, float(value))

    def output_shape(self, channels: int, size: int) -> tuple[int, int]:
        """(channels, spatial size) after this layer for a `channels x size x size` input."""
        raise NotImplementedError

    def build(self, channels: int, size: int) -> nn.Module:
        """The module for a `channels x size x size` input."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "LayerSpec":
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise InvalidArchitectureError(f"a layer must be an object with a 'type' string (one of "
                                           f"{', '.join(LAYER_TYPES.names())}); got {data!r}")
        options = dict(data)
        cls = LAYER_TYPES.get(options.pop("type"))
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise InvalidArchitectureError(
                f"layer {cls.type!r}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        return cls(**options)


LAYER_TYPES: Registry[type[LayerSpec]] = Registry("layer type")


def _register(cls: type[LayerSpec]) -> type[LayerSpec]:
    return LAYER_TYPES.register(cls.type)(cls)


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _strided(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Module:
    return Conv2dNormActivation(
        cin, cout, kernel_size=kernel, stride=stride, groups=groups,
        norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU,
    )


@_register
@dataclass(frozen=True)
class PaperModule(LayerSpec):
    """The AEBNAS exit module: resize to s x s, conv (stride 2, x width channels), BN, ReLU, optional 2x2 max-pool."""

    type: ClassVar[str] = "paper"
    choices: ClassVar[dict[str, tuple]] = {
        "resize": (4, 6, 8, 10, 12, 16), "kernel": (3, 5), "width": WIDTHS, "pool": (False, True),
    }
    resize: int = 8
    kernel: int = 3
    width: float = 1.0
    pool: bool = False

    def output_shape(self, channels: int, size: int) -> tuple[int, int]:
        out = _strided(self.resize, 2)
        return _scaled(channels, self.width), out // 2 if self.pool else out

    def build(self, channels: int, size: int) -> nn.Module:
        layers = [
            nn.AdaptiveAvgPool2d(self.resize),
            _conv_bn_relu(channels, _scaled(channels, self.width), self.kernel, stride=2),
        ]
        if self.pool:
            layers.append(nn.MaxPool2d(2))
        return nn.Sequential(*layers)


@dataclass(frozen=True)
class _StridedConv(LayerSpec):
    """Options and output shape shared by the convolution layers (conv, dwsep, mbconv): kernel, width
    multiplier, stride."""

    kernel: int = 3
    width: float = 1.0
    stride: int = 1

    def output_shape(self, channels: int, size: int) -> tuple[int, int]:
        return _scaled(channels, self.width), _strided(size, self.stride)


@_register
@dataclass(frozen=True)
class Conv(_StridedConv):
    """Plain conv k x k (stride 1 or 2) + BN + ReLU."""

    type: ClassVar[str] = "conv"
    choices: ClassVar[dict[str, tuple]] = {"kernel": KERNELS, "width": WIDTHS, "stride": (1, 2)}

    def build(self, channels: int, size: int) -> nn.Module:
        return _conv_bn_relu(channels, _scaled(channels, self.width), self.kernel, self.stride)


@_register
@dataclass(frozen=True)
class DepthwiseSeparable(_StridedConv):
    """Depthwise k x k conv (stride 1 or 2) + BN + ReLU, then pointwise 1x1 conv + BN + ReLU."""

    type: ClassVar[str] = "dwsep"
    choices: ClassVar[dict[str, tuple]] = {"kernel": (3, 5, 7), "width": WIDTHS, "stride": (1, 2)}

    def build(self, channels: int, size: int) -> nn.Module:
        return nn.Sequential(
            _conv_bn_relu(channels, channels, self.kernel, self.stride, groups=channels),
            _conv_bn_relu(channels, _scaled(channels, self.width), 1),
        )


class _InvertedResidual(nn.Module):
    """MBConv: 1x1 expand, depthwise k x k, 1x1 project (no activation); residual when shapes match."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [_conv_bn_relu(cin, hidden, 1)]
        layers += [
            _conv_bn_relu(hidden, hidden, kernel, stride, groups=hidden),
            Conv2dNormActivation(hidden, cout, 1, norm_layer=nn.BatchNorm2d, activation_layer=None),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return out + x if self.residual else out


@_register
@dataclass(frozen=True)
class MBConv(_StridedConv):
    """Inverted residual block (MobileNetV2/V3 style) with expansion, kernel, width and stride."""

    type: ClassVar[str] = "mbconv"
    choices: ClassVar[dict[str, tuple]] = {
        "expansion": (1, 2, 3, 4, 6), "kernel": (3, 5, 7), "width": WIDTHS, "stride": (1, 2),
    }
    expansion: int = 4

    def build(self, channels: int, size: int) -> nn.Module:
        return _InvertedResidual(channels, _scaled(channels, self.width), self.expansion, self.kernel, self.stride)


@_register
@dataclass(frozen=True)
class Pool(LayerSpec):
    """2x2 pooling with stride 2 (max or average)."""

    type: ClassVar[str] = "pool"
    choices: ClassVar[dict[str, tuple]] = {"kind": ("max", "avg")}
    kind: str = "max"

    def output_shape(self, channels: int, size: int) -> tuple[int, int]:
        return channels, size // 2

    def build(self, channels: int, size: int) -> nn.Module:
        return nn.MaxPool2d(2) if self.kind == "max" else nn.AvgPool2d(2)
