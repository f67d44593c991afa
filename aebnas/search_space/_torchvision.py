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

import hashlib
import pickle
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision import models

from aebnas.exceptions import AebnasError, InvalidArchitectureError

PREFIX = "torchvision:"
MIN_RESOLUTION = 32  # every supported family reduces its input 32-fold
MAX_RESOLUTION = 1024
ADAPT = ("head", "all")
_PROBE_SIZE = 64  # block groups are found once per model on a probe of this size (stable for sizes >= 32)


class InputStatistics(Protocol):
    """How the dataset's images were standardised: ``(raw - mean) / std`` per channel, raw pixels in
    [0, ``info.pixel_max``] (aebnas.datasets.DatasetSplits has it)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    info: Any


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


class InputAdapter(nn.Module):
    """Makes a dataset's `batch x C x H x W` standardised images what the model takes: resized (bilinear)
    to `resolution x resolution`, grey repeated to 3 channels, mapped per channel by ``x * scale + shift``
    (identity from scratch; with weights: from the dataset's standardisation to the weights' own)."""

    def __init__(self, in_channels: int, resolution: int) -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.register_buffer("scale", torch.ones(3))
        self.register_buffer("shift", torch.zeros(3))

    def set_statistics(self, stats: InputStatistics, mean: Sequence[float], std: Sequence[float]) -> None:
        """Inputs standardised with ``stats`` (raw pixels up to ``stats.info.pixel_max``) -> standardised with
        the weights' ``mean`` and ``std`` (of pixels in [0, 1])."""
        if len(stats.mean) not in (1, 3) or len(stats.std) != len(stats.mean):
            raise AebnasError(f"input statistics need 1 or 3 channels' mean and std; got {stats.mean}, {stats.std}")
        d_mean = torch.tensor(stats.mean, dtype=torch.float32).expand(3) / stats.info.pixel_max
        d_std = torch.tensor(stats.std, dtype=torch.float32).expand(3) / stats.info.pixel_max
        w_mean, w_std = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        self.scale.copy_(d_std / w_std)
        self.shift.copy_((d_mean - w_mean) / w_std)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return x * self.scale.view(1, 3, 1, 1) + self.shift.view(1, 3, 1, 1)


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
    return ("DEFAULT",) + tuple(w.name for w in weights_enum(name))


def default_bn_momentum(model: nn.Module) -> None:
    """Batch norms of ``model`` with PyTorch's default momentum (0.1). Some families set 0.01 for their long
    ImageNet schedules (MobileNetV3, EfficientNet); trained from scratch for a few epochs, their running
    statistics then stay near their initial values and the network in eval mode predicts at chance."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1


def normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of pixels in [0, 1] that the model's library weights expect."""
    transforms = weights_enum(name).DEFAULT.transforms()
    return tuple(transforms.mean), tuple(transforms.std)


def check_weights(name: str, value: Any) -> str | None:
    """The canonical ``weights`` option: None (from scratch), ``DEFAULT`` or a weights enum name of the
    model, or the absolute path of an existing file (checked to hold this model's weights)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArchitectureError(f"backbone {PREFIX + name!r}: weights must be DEFAULT, a weights name "
                                       f"({', '.join(weight_names(name)[1:])}) or a file path; got {value!r}")
    if value in weight_names(name):
        return value
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise InvalidArchitectureError(
            f"backbone {PREFIX + name!r}: weights {value!r} is neither DEFAULT, a weights name of the model "
            f"({', '.join(weight_names(name)[1:])}) nor an existing file")
    stat = path.stat()
    _file_weights(name, str(path), stat.st_mtime_ns, stat.st_size)  # a wrong file is refused now, not mid-run
    return str(path)


def weights_identity(name: str, value: str | None) -> str | None:
    """What identifies the weights: the enum member's name (DEFAULT resolved), or ``sha256:`` of the file."""
    if value is None:
        return None
    if value in weight_names(name):
        member = weights_enum(name).DEFAULT if value == "DEFAULT" else weights_enum(name)[value]
        return f"{type(member).__name__}.{member.name}"
    stat = Path(value).stat()
    return "sha256:" + _file_weights(name, value, stat.st_mtime_ns, stat.st_size)[1]


@lru_cache(maxsize=8)
def _file_weights(name: str, path: str, mtime_ns: int, size: int) -> tuple[dict[str, Tensor], str]:
    """(state dict, sha256) of a weights file (a state dict, a checkpoint with one, or a saved module),
    checked against the model (memoised by path, modification time and size)."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a saved module (torch.save(model)): the user's own file, unpickled in full
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001  (unpickling a module raises many kinds)
            raise AebnasError(f"weights file {path} cannot be read ({type(err).__name__}: {err})") from None
    except Exception as err:  # noqa: BLE001  (a damaged or foreign file)
        raise AebnasError(f"weights file {path} cannot be read as torch weights ({type(err).__name__}); give a "
                          "state dict or a module saved with torch.save") from None
    if isinstance(loaded, nn.Module):
        loaded = loaded.state_dict()
    elif isinstance(loaded, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise AebnasError(f"weights file {path} holds a {type(loaded).__name__}, not a state dict or a module")
    state = {k.removeprefix("module."): v for k, v in loaded.items()}  # DataParallel checkpoints
    with torch.random.fork_rng(devices=[]):
        _check_fits(name, models.get_model(name).state_dict(), state, path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return state, digest.hexdigest()


def _final_linear_keys(name: str, model: nn.Module) -> set[str]:
    """State-dict keys of the model's last linear layer (replaced when the classes differ)."""
    last = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    return {f"{last}.weight", f"{last}.bias"}


def _check_fits(name: str, expected: dict[str, Tensor], state: dict[str, Tensor], source: str) -> None:
    """One clear error unless ``state`` holds this model's weights (the last linear layer may differ in classes)."""
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    with torch.random.fork_rng(devices=[]):
        head = _final_linear_keys(name, models.get_model(name))
    wrong = [k for k in set(expected) & set(state) - head if state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of its tensors missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown to it (e.g. {unexpected[0]})")
    if wrong:
        k = sorted(wrong)[0]
        problems.append(f"{len(wrong)} of another shape (e.g. {k}: {list(state[k].shape)} in the file, "
                        f"{list(expected[k].shape)} in the model)")
    if problems:
        raise AebnasError(f"weights {source} do not fit torchvision model {name!r}: {'; '.join(problems)}; give weights "
                          f"saved from torchvision.models.{name} (a state dict or the module)")


def library_state(name: str, value: str) -> dict[str, Tensor]:
    """The state dict of library weights ``value`` (DEFAULT or an enum name), through torchvision's own
    download and cache; offline without a cached copy: one clear error naming the file and where to put it."""
    member = weights_enum(name).DEFAULT if value == "DEFAULT" else weights_enum(name)[value]
    try:
        return member.get_state_dict(progress=False, check_hash=True)
    except Exception as err:  # noqa: BLE001  (URLError, timeouts, a damaged download: all mean no weights)
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        raise AebnasError(
            f"cannot get the {type(member).__name__}.{member.name} weights of {PREFIX + name} "
            f"({type(err).__name__}: {err}); offline, download {member.url} elsewhere and put it in {folder}/, "
            "or give a local file (--backbone-weights PATH)") from None


def load_weights(name: str, model: nn.Module, value: str) -> bool:
    """Loads weights ``value`` into ``model`` (built with the dataset's classes); returns whether its last
    linear layer came with them (the file's classes are the dataset's), else it stays newly initialised."""
    if value in weight_names(name):
        state = library_state(name, value)
        _check_fits(name, model.state_dict(), state, f"{type(weights_enum(name)).__name__}.{value}")
    else:
        stat = Path(value).stat()
        state = _file_weights(name, value, stat.st_mtime_ns, stat.st_size)[0]
    expected = model.state_dict()
    head = _final_linear_keys(name, model)
    head_fits = all(k in state and state[k].shape == expected[k].shape for k in head)
    model.load_state_dict({k: v for k, v in state.items() if head_fits or k not in head}, strict=False)
    return head_fits
