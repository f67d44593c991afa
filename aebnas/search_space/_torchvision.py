"""torchvision classification models as backbones (``torchvision:NAME``): each model family is described
once (which child modules are its stem, its body of blocks, its tail and its head), and every model of a
family is split the same way, with its own weights when the user gives them.

Stages: the stem runs before the first block of the body, the tail after the last; the body's blocks are
grouped so that a new stage starts at every block that changes the shape of its input (a new spatial size
or a new width: a new block group). Exits sit between stages; the final exit is the model's own head with
its last linear layer sized for the dataset's classes. An input adapter (resize to ``resolution``, grey
images repeated to 3 channels, the weights' normalisation) runs first, inside stage 1, so its cost counts in
the stem's part (it has no multiply-adds of a convolution or linear layer: 0 MACs under fvcore).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torchvision import models

from aebnas.exceptions import AebnasError
from aebnas.search_space import _library

PREFIX = "torchvision:"
WEIGHTS_NAME = "weights name"
MIN_RESOLUTION = 32  # every supported family reduces its input 32-fold
_PROBE_SIZE = 64  # block groups are found once per model on a probe of this size (stable for sizes >= 32)


@dataclass(frozen=True)
class Family:
    """Which child modules of a model family form its parts. Each entry is a module path (``layer1``,
    ``trunk_output``), a slice of a container's children (``features[1:-1]``), or ``@pool`` / ``@flatten``
    (global average pooling / flattening where the model's ``forward`` does them functionally)."""

    stem: tuple[str, ...]
    body: tuple[str, ...]
    tail: tuple[str, ...]
    head: tuple[str, ...]


_FAMILIES = {
    "resnet": Family(("conv1", "bn1", "relu", "maxpool"), ("layer1", "layer2", "layer3", "layer4"), (),
                     ("avgpool", "@flatten", "fc")),
    "mobilenet_v2": Family(("features[0:1]",), ("features[1:-1]",), ("features[-1:]",), ("@pool", "@flatten", "classifier")),
    "mobilenet_v3": Family(("features[0:1]",), ("features[1:-1]",), ("features[-1:]",), ("avgpool", "@flatten", "classifier")),
    "efficientnet": Family(("features[0:1]",), ("features[1:-1]",), ("features[-1:]",), ("avgpool", "@flatten", "classifier")),
    "regnet": Family(("stem",), ("trunk_output[:]",), (), ("avgpool", "@flatten", "fc")),
    "mnasnet": Family(("layers[0:8]",), ("layers[8:14]",), ("layers[14:]",), ("@pool", "@flatten", "classifier")),
    "shufflenet_v2": Family(("conv1", "maxpool"), ("stage2", "stage3", "stage4"), ("conv5",), ("@pool", "@flatten", "fc")),
    "convnext": Family(("features[0:1]",), ("features[1:]",), (), ("avgpool", "classifier")),
}

#: registered models -> family (a curated list: every entry is tested; other models of these families
#: work the same way once listed here)
MODELS = {
    "resnet18": "resnet", "resnet34": "resnet", "resnet50": "resnet", "resnext50_32x4d": "resnet",
    "mobilenet_v2": "mobilenet_v2", "mobilenet_v3_small": "mobilenet_v3", "mobilenet_v3_large": "mobilenet_v3",
    "efficientnet_b0": "efficientnet", "efficientnet_b1": "efficientnet", "efficientnet_b2": "efficientnet",
    "regnet_x_400mf": "regnet", "regnet_y_400mf": "regnet", "regnet_y_800mf": "regnet",
    "mnasnet0_5": "mnasnet", "mnasnet1_0": "mnasnet",
    "shufflenet_v2_x0_5": "shufflenet_v2", "shufflenet_v2_x1_0": "shufflenet_v2",
    "convnext_tiny": "convnext",
}


def explain_unknown(name: str) -> str:
    """Why ``name`` is no backbone when it names a torchvision model aebnas cannot split ("" otherwise)."""
    model = name.removeprefix(PREFIX)
    if name.startswith(PREFIX) and model not in MODELS and model in models.list_models(module=models):
        return f" ({model} is a torchvision model of a family aebnas cannot split into stages yet)"
    return ""


def _modules(model: nn.Module, entries: Sequence[str]) -> list[nn.Module]:
    """The modules an entry list of a :class:`Family` names, in order."""
    out: list[nn.Module] = []
    for entry in entries:
        if entry == "@pool":
            out.append(nn.AdaptiveAvgPool2d(1))
        elif entry == "@flatten":
            out.append(nn.Flatten(1))
        elif (match := re.fullmatch(r"([\w.]+)\[(-?\d*):(-?\d*)\]", entry)):
            children = list(model.get_submodule(match[1]).children())
            start, stop = (int(v) if v else None for v in match.group(2, 3))
            out.extend(children[start:stop])
        else:
            out.append(model.get_submodule(entry))
    return out


@dataclass(frozen=True)
class Split:
    """A model's parts before grouping: the stem, the body's blocks, the tail and the head modules."""

    stem: tuple[nn.Module, ...]
    blocks: tuple[nn.Module, ...]
    tail: tuple[nn.Module, ...]
    head: tuple[nn.Module, ...]


def split_model(name: str, model: nn.Module) -> Split:
    family = _FAMILIES[MODELS[name]]
    return Split(*(tuple(_modules(model, entries)) for entries in (family.stem, family.body, family.tail, family.head)))


@lru_cache(maxsize=None)
def stage_starts(name: str) -> tuple[int, ...]:
    """Indices of the body blocks that start a stage (the first block, and each that changes its input's shape)."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        parts = split_model(name, models.get_model(name).eval())
        x = nn.Sequential(*parts.stem)(torch.zeros(1, 3, _PROBE_SIZE, _PROBE_SIZE))
        starts = []
        for i, block in enumerate(parts.blocks):
            y = block(x)
            if i == 0 or y.shape != x.shape:
                starts.append(i)
            x = y
    return tuple(starts)


@lru_cache(maxsize=None)
def weights_enum(name: str) -> Any:
    """The model's torchvision weights enum (metadata only: nothing is downloaded)."""
    return models.get_model_weights(name)


def weight_names(name: str) -> tuple[str, ...]:
    """DEFAULT and the names of the model's weights enum."""
    return ("DEFAULT",) + tuple(w.name for w in weights_enum(name))


def normalisation(name: str, weights: str | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of pixels in [0, 1] that the model's library weights expect (the same for each of them)."""
    transforms = weights_enum(name).DEFAULT.transforms()
    return tuple(transforms.mean), tuple(transforms.std)




def create(name: str, num_classes: int) -> nn.Module:
    return models.get_model(name, num_classes=num_classes)


def min_resolution(name: str) -> int:
    return MIN_RESOLUTION


def num_stages(name: str) -> int:
    return len(stage_starts(name))


def split(name: str, model: nn.Module) -> tuple[list[list[nn.Module]], nn.Module]:
    """The stages (the stem joins the first block group, the tail the last) and the head of ``model``."""
    parts = split_model(name, model)
    starts = stage_starts(name) + (len(parts.blocks),)
    stages = [list(parts.blocks[a:b]) for a, b in zip(starts, starts[1:])]
    stages[0] = [*parts.stem, *stages[0]]
    stages[-1] += parts.tail
    return stages, nn.Sequential(*parts.head)


def library_identity(name: str, value: str) -> str:
    """The weights enum member's full name (DEFAULT resolved): ``MobileNet_V3_Small_Weights.IMAGENET1K_V1``."""
    member = weights_enum(name).DEFAULT if value == "DEFAULT" else weights_enum(name)[value]
    return f"{type(member).__name__}.{member.name}"


def head_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the model's last linear layer (new when the classes differ)."""
    last = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    return {f"{last}.weight", f"{last}.bias"}


def origin(name: str) -> str:
    return f"torchvision.models.{name}"


def library_state(name: str, value: str) -> dict[str, Tensor]:
    """The state dict of library weights ``value`` (DEFAULT or an enum name), through torchvision's own
    download and cache; offline without a cached copy: one clear error naming the file and where to put it."""
    member = weights_enum(name).DEFAULT if value == "DEFAULT" else weights_enum(name)[value]
    try:
        return member.get_state_dict(progress=False, check_hash=True)
    except Exception as err:  # noqa: BLE001  (URLError, timeouts, a damaged download: all mean no weights)
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        raise AebnasError(
            f"cannot get the {library_identity(name, value)} weights of {PREFIX + name} ({type(err).__name__}: "
            f"{_library.one_line(err)}); offline, download {member.url} elsewhere and put it in {folder}/, or give a "
            "local file (--backbone-weights PATH)") from None
