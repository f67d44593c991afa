"""What backbones taken from model libraries (torchvision, timm) share: the input adapter, the check of their
``resolution`` option, and their weights (the library's, or a file) checked against the model, identified and
loaded. Each library's module (``_torchvision``, ``_timm``) offers the functions of :class:`Library`, which
one backbone class (aebnas.search_space.backbones.LibraryBackbone) and the functions here call."""

from __future__ import annotations

import hashlib
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aebnas.exceptions import AebnasError, InvalidArchitectureError

ADAPT = ("head", "all")
MAX_RESOLUTION = 1024


class InputStatistics(Protocol):
    """How the dataset's images were standardised: ``(raw - mean) / std`` per channel, raw pixels in
    [0, ``info.pixel_max``] (aebnas.datasets.DatasetSplits has it)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    info: Any


class Library(Protocol):
    """What a library's module offers for its model ``name`` (without the library's prefix)."""

    PREFIX: str  # "torchvision:"
    WEIGHTS_NAME: str  # what the library calls a name of its weights ("weights name", "pretrained tag")

    def create(self, name: str, num_classes: int) -> nn.Module:
        """The whole model, randomly initialised, its classifier sized for ``num_classes``."""

    def min_resolution(self, name: str) -> int:
        """The smallest input side, in pixels, that the model takes."""

    def num_stages(self, name: str) -> int:
        """How many stages :meth:`split` cuts the model into."""

    def split(self, name: str, model: nn.Module) -> tuple[list[list[nn.Module]], nn.Module]:
        """(the modules of each stage, run in order; the head, global average pooling first) of ``model``."""

    def normalisation(self, name: str, weights: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) of pixels in [0, 1] that the model's ``weights`` (an option value) expect."""

    def weight_names(self, name: str) -> tuple[str, ...]:
        """Names of the library's weights of the model, ``DEFAULT`` first (metadata: nothing is downloaded);
        empty when the library has none."""

    def library_identity(self, name: str, value: str) -> str:
        """The full name of the library's weights ``value`` (one of :meth:`weight_names`, DEFAULT resolved)."""

    def library_state(self, name: str, value: str) -> dict[str, Tensor]:
        """The state dict of the library's weights ``value``, through the library's download and cache;
        offline without a cached copy: one clear AebnasError naming what to download and where it goes."""

    def head_keys(self, model: nn.Module) -> set[str]:
        """State-dict keys of the model's classifier (new when the weights' classes are not the dataset's)."""

    def origin(self, name: str) -> str:
        """Where weights of the model come from, for messages (``torchvision.models.resnet18``)."""


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


def check_resolution(backbone: str, resolution: Any, minimum: int) -> None:
    """One clear error unless ``resolution`` is an integer in ``minimum``..MAX_RESOLUTION."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution > MAX_RESOLUTION:
        raise InvalidArchitectureError(f"backbone {backbone!r}: resolution must be an integer number of pixels "
                                       f"in {minimum}..{MAX_RESOLUTION}; got {resolution!r}")
    if resolution < minimum:
        raise InvalidArchitectureError(
            f"backbone {backbone!r}: resolution {resolution} is too small: the model needs at least {minimum} px "
            f"(its stages reduce the input {minimum}-fold or it runs on no smaller input); give resolution="
            f"{minimum} or more")


def default_bn_momentum(model: nn.Module) -> None:
    """Batch norms of ``model`` with PyTorch's default momentum (0.1). Some families set 0.01 for their long
    ImageNet schedules (MobileNetV3, EfficientNet); trained from scratch for a few epochs, their running
    statistics then stay near their initial values and the network in eval mode predicts at chance."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1


def check_weights(library: Library, name: str, value: Any) -> str | None:
    """The canonical ``weights`` option of ``library``'s model ``name``: None (from scratch), a name of the
    library's weights (DEFAULT first), or the absolute path of an existing file, read and checked now (a
    wrong file is refused before any work)."""
    if value is None:
        return None
    backbone, names = library.PREFIX + name, library.weight_names(name)
    offered = f"DEFAULT, a {library.WEIGHTS_NAME} of the model ({', '.join(names[1:])})" if names else ""
    if not isinstance(value, str) or not value:
        raise InvalidArchitectureError(f"backbone {backbone!r}: weights must be {offered + ' or ' if offered else ''}"
                                       f"a file path; got {value!r}")
    if value in names:
        return value
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise InvalidArchitectureError(f"backbone {backbone!r}: weights {value!r} is " + (
            f"neither {offered} nor an existing file" if offered else
            f"no existing file (the model has no {library.WEIGHTS_NAME}s to name)"))
    _checked_file(library, name, str(path))
    return str(path)


def weights_identity(library: Library, name: str, value: str | None) -> str | None:
    """What identifies the weights ``value`` (canonical): the library's full name of its weights, or
    ``sha256:`` of the file; None from scratch."""
    if value is None:
        return None
    if value in library.weight_names(name):
        return library.library_identity(name, value)
    return "sha256:" + _checked_file(library, name, value)[1]


def load_weights(library: Library, name: str, model: nn.Module, value: str) -> bool:
    """Loads weights ``value`` (canonical) into ``model`` (built with the dataset's classes); the classifier
    only when its shapes fit (the weights' classes are the dataset's), else it stays newly initialised.
    Returns whether it did."""
    if value in library.weight_names(name):
        state = library.library_state(name, value)
        _check_state(library, name, state, library.library_identity(name, value))
    else:
        state = _checked_file(library, name, value)[0]
    head = library.head_keys(model)
    expected = model.state_dict()
    head_fits = all(k in state and state[k].shape == expected[k].shape for k in head)
    model.load_state_dict({k: v for k, v in state.items() if head_fits or k not in head}, strict=False)
    return head_fits


def _checked_file(library: Library, name: str, path: str) -> tuple[dict[str, Tensor], str]:
    """(state dict, sha256) of the weights file ``path``, checked against model ``name`` (memoised by path,
    modification time and size)."""
    stat = Path(path).stat()
    return _read_checked(library, name, path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_checked(library: Library, name: str, path: str, mtime_ns: int, size: int) -> tuple[dict[str, Tensor], str]:
    state = read_state(path)
    _check_state(library, name, state, path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return state, digest.hexdigest()


def read_state(path: str) -> dict[str, Tensor]:
    """The state dict in a weights file: a state dict, a checkpoint holding one, or a saved module (torch.save
    files), or a ``.safetensors`` file (as timm's weights are published)."""
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file  # installed with timm; not a dependency of aebnas
        except ImportError:
            raise AebnasError(f"weights file {path} is a safetensors file: pip install safetensors to read it") from None
        try:
            return load_file(path, device="cpu")
        except Exception as err:  # noqa: BLE001  (a damaged file)
            raise AebnasError(f"weights file {path} cannot be read as safetensors ({type(err).__name__}: "
                              f"{one_line(err)})") from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # a saved module (torch.save(model)): the user's own file, unpickled in full
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001  (unpickling a module raises many kinds)
            raise AebnasError(f"weights file {path} cannot be read ({type(err).__name__}: {one_line(err)})") from None
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
    return {k.removeprefix("module."): v for k, v in loaded.items()}  # DataParallel checkpoints


def _check_state(library: Library, name: str, state: dict[str, Tensor], source: str) -> None:
    """One clear error unless ``state`` holds the weights of model ``name`` (its classifier may differ in
    classes)."""
    with torch.random.fork_rng(devices=[]):
        model = library.create(name, 1000)
    expected, head = model.state_dict(), library.head_keys(model)
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) - head if state[k].shape != expected[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} of its tensors missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown to it (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} of another shape (e.g. {k}: {list(state[k].shape)} in the file, "
                        f"{list(expected[k].shape)} in the model)")
    if problems:
        raise AebnasError(f"weights {source} do not fit {library.PREFIX.rstrip(':')} model {name!r}: "
                          f"{'; '.join(problems)}; give weights saved from {library.origin(name)} (a state dict or "
                          "the module)")


def one_line(err: BaseException) -> str:
    """An exception's message on one line (library messages may span several)."""
    return " ".join(str(err).split())
