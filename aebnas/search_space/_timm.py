"""timm models as backbones (``timm:NAME``; timm is optional: ``pip install 'aebnas[timm]'``): any timm model
whose ``features_only`` outputs come from its own modules run in sequence is split without per-model code.

The rule: a timm model's ``feature_info`` names the module that makes each of its feature maps (``act1``,
``layer2``, ``blocks.4``), with their channels and reductions. Its ``forward_features`` runs its top-level
children in order (the order is recorded by hooks on a probe input); a child holding a feature module is
opened, down to that module, and must be an ``nn.Sequential`` (as timm's own ``FeatureListNet`` flattens
it). Stage k runs the modules after feature module k-1 up to feature module k, so its output is timm's k-th
``features_only`` output; the last stage also runs whatever ``forward_features`` runs after the last feature
module (EfficientNet's ``conv_head``, ConvNeXt's ``norm_pre``). Exits sit between stages. The final exit is
the model's own ``forward_head`` (pooling, pre-logits layers, classifier sized for the dataset's classes by
``create_model(num_classes=...)``), run on an instance of the model's class that holds only the children
``forward_features`` does not run, so the head's parameters are its own.

Each model is checked once, on probe inputs: the stages in sequence must give ``forward_features``'s output
with feature maps of ``feature_info``'s channels, the head the model's own logits, also on globally pooled
features (fast mode trains the head on them). A model that fails is refused with the reason (ViTs, for
one: their ``forward_features`` adds position embeddings between modules). The probe also finds the
smallest input the model runs on: its last feature map's reduction, or 2, 4 or 8 times it. As for
torchvision models, an input adapter (resize to ``resolution``, grey to 3 channels, the weights'
normalisation: timm's ``pretrained_cfg`` mean and std) runs first, inside stage 1.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from timm.models import get_pretrained_cfg
from torch import Tensor, nn

from aebnas.exceptions import AebnasError, UnknownNameError
from aebnas.search_space import _library

PREFIX = "timm:"
WEIGHTS_NAME = "pretrained tag"
_PROBE_SCALES = (1, 2, 4, 8)  # probe sizes: the last feature map's reduction times these


class ModelHead(nn.Module):
    """A timm model's own ``forward_head``, run on an instance of the model's class holding only the head's
    children (``names``) and the model's other attributes (``drop_rate``, ``num_features``, ...)."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        head = type(model).__new__(type(model))
        nn.Module.__init__(head)
        for key, value in vars(model).items():
            head.__dict__.setdefault(key, value)  # plain attributes; the module registries stay head's own
        for name in names:
            head.add_module(name, model.get_submodule(name))
        head.train(model.training)
        self.model = head

    def forward(self, x: Tensor) -> Tensor:
        return self.model.forward_head(x)


@dataclass(frozen=True)
class Layout:
    """Where a timm model is cut: ``stages`` holds, per stage, the paths of the modules it runs in order;
    ``head`` the top-level children that ``forward_head`` runs; ``min_resolution`` the smallest input side
    the model runs on, in pixels."""

    stages: tuple[tuple[str, ...], ...]
    head: tuple[str, ...]
    min_resolution: int


class _CannotSplit(Exception):
    """Why a model cannot be split (turned into one UnknownNameError by :func:`resolve`)."""


def resolve(name: str) -> str:
    """``name`` when it is a timm model that aebnas can split; else one clear UnknownNameError (close matches
    for an unknown name, the reason for a model that cannot be split)."""
    if "." in name and timm.is_model(name):
        model, tag = name.split(".", 1)
        raise UnknownNameError(
            f"backbone {PREFIX + name!r} names timm weights ({tag}) in the model name; give the model and its weights "
            f"apart: --backbone {PREFIX + model} --backbone-weights {tag} (the backbone option weights={tag})")
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=4, cutoff=0.6)
        hint = f" (did you mean {' or '.join(PREFIX + c for c in close)}?)" if close else ""
        raise UnknownNameError(f"unknown backbone {PREFIX + name!r}: timm {timm.__version__} has no model {name!r}{hint}; "
                               "timm.list_models() lists them")
    try:
        layout(name)
    except _CannotSplit as err:
        raise UnknownNameError(f"backbone {PREFIX + name!r}: aebnas cannot split timm model {name!r} into stages: "
                               f"{err}") from None
    return name


@lru_cache(maxsize=None)
def layout(name: str) -> Layout:
    """How timm model ``name`` is cut (the module docstring's rule), checked on probe inputs."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        model = timm.create_model(name).eval()
        info = getattr(model, "feature_info", None)
        if not isinstance(info, (list, tuple)) or not info or not all(isinstance(d, dict) for d in info):
            raise _CannotSplit("it has no feature_info (no features_only stage outputs)")
        features = [d["module"] for d in info]
        probe, reference, called, size = _probe(model, int(info[-1]["reduction"]))
        if len(set(called)) != len(called):
            raise _CannotSplit("its forward_features runs a module twice")
        sequence = [entry for child in called for entry in _opened(child, model.get_submodule(child), features)]
        paths = [path for path, _ in sequence]
        if any(f not in paths for f in features):
            missing = next(f for f in features if f not in paths)
            raise _CannotSplit(f"its feature module {missing} is not among the modules forward_features runs")
        ends = [paths.index(f) for f in features]
        if ends != sorted(set(ends)):
            raise _CannotSplit("its feature modules are not in the order forward_features runs them")
        bounds = [0, *(end + 1 for end in ends[:-1]), len(paths)]
        x = probe
        for at, (path, module) in enumerate(sequence):
            try:
                x = module(x)
            except Exception as err:  # noqa: BLE001  (a module that takes more than its predecessor's output)
                raise _CannotSplit(f"its module {path} fails on the output of the one before it "
                                   f"({type(err).__name__}: {_library.one_line(err)})") from None
            channels = info[ends.index(at)]["num_chs"] if at in ends else None
            if channels is not None and not (isinstance(x, Tensor) and x.dim() == 4 and x.shape[1] == channels):
                raise _CannotSplit(f"the output of its feature module {path} is not a 1 x C x H x W map of {channels} "
                                   f"channels")
        if not isinstance(reference, Tensor) or x.shape != reference.shape or not _close(x, reference):
            raise _CannotSplit("its forward_features does more than run its modules in sequence")
        head_names = tuple(n for n, _ in model.named_children() if n not in called)
        try:
            logits = ModelHead(model, head_names)(x)
            pooled = ModelHead(model, head_names)(F.adaptive_avg_pool2d(x, 1))
        except Exception as err:  # noqa: BLE001  (the head needs a module forward_features ran)
            raise _CannotSplit(f"its forward_head needs more than the modules forward_features does not run "
                               f"({type(err).__name__}: {_library.one_line(err)})") from None
        whole = model(probe)
        if logits.shape != whole.shape or not _close(logits, whole):
            raise _CannotSplit("its forward is more than forward_features and forward_head")
        if not _close(pooled, logits):
            raise _CannotSplit("its head does not begin with global average pooling")
    stages = tuple(tuple(paths[a:b]) for a, b in zip(bounds, bounds[1:]))
    return Layout(stages, head_names, size)


def _probe(model: nn.Module, reduction: int) -> tuple[Tensor, Tensor, list[str], int]:
    """(probe input, forward_features's output, the top-level children it ran in order, the probe's side) on
    the smallest probe the model runs on (its reduction times 1, 2, 4 or 8)."""
    error: Exception | None = None
    for size in (reduction * s for s in _PROBE_SCALES):
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
        called: list[str] = []
        hooks = [child.register_forward_pre_hook(lambda module, args, name=name: called.append(name))
                 for name, child in model.named_children()]
        try:
            return x, model.forward_features(x), called, size
        except Exception as err:  # noqa: BLE001  (too small an input fails in many ways)
            error = err
        finally:
            for hook in hooks:
                hook.remove()
    raise _CannotSplit(f"its forward_features fails on inputs of {reduction}..{reduction * _PROBE_SCALES[-1]} px "
                       f"({type(error).__name__}: {_library.one_line(error)})")


def _opened(path: str, module: nn.Module, features: list[str]) -> list[tuple[str, nn.Module]]:
    """``(path, module)``, or, when it holds feature modules, its children in order, opened the same way."""
    inner = [f for f in features if f.startswith(path + ".")]
    if not inner:
        return [(path, module)]
    if not isinstance(module, nn.Sequential):
        raise _CannotSplit(f"its feature module {inner[0]} sits inside {path} ({type(module).__name__}), which "
                           "does not simply run its children in sequence")
    return [entry for name, child in module.named_children() for entry in _opened(f"{path}.{name}", child, features)]


def _close(a: Tensor, b: Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5 * (1.0 + float(b.abs().max())))


def create(name: str, num_classes: int) -> nn.Module:
    return timm.create_model(name, num_classes=num_classes)


def min_resolution(name: str) -> int:
    return layout(name).min_resolution


def num_stages(name: str) -> int:
    return len(layout(name).stages)


def split(name: str, model: nn.Module) -> tuple[list[list[nn.Module]], nn.Module]:
    """The stages and the head (:class:`ModelHead`) of ``model``, a timm ``name`` model."""
    cut = layout(name)
    return [[model.get_submodule(path) for path in paths] for paths in cut.stages], ModelHead(model, cut.head)


@lru_cache(maxsize=None)
def pretrained_tags(name: str) -> tuple[str, ...]:
    """The tags of the model's pretrained weights in timm (``a1_in1k``), its default first; none when timm
    has no weights for it. Metadata only: nothing is downloaded."""
    tags = [full.split(".", 1)[1] for full in timm.list_pretrained(f"{name}.*")]
    default = get_pretrained_cfg(name).tag
    return tuple(sorted(tags, key=lambda tag: tag != default))


def weight_names(name: str) -> tuple[str, ...]:
    """DEFAULT and the model's pretrained tags (none when timm has no weights for it)."""
    tags = pretrained_tags(name)
    return ("DEFAULT", *tags) if tags else ()


def _tag(name: str, value: str) -> str:
    return pretrained_tags(name)[0] if value == "DEFAULT" else value


def normalisation(name: str, weights: str | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of pixels in [0, 1] from the weights' pretrained_cfg (the model's default for a file)."""
    cfg = get_pretrained_cfg(f"{name}.{_tag(name, weights)}" if weights in weight_names(name) else name)
    mean, std = tuple(map(float, cfg.mean)), tuple(map(float, cfg.std))
    return (mean * 3, std * 3) if len(mean) == 1 else (mean, std)


def library_identity(name: str, value: str) -> str:
    """timm's full name of the weights (DEFAULT resolved): ``resnet18.a1_in1k``."""
    return f"{name}.{_tag(name, value)}"


def head_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the model's classifier (new when the classes differ)."""
    classifier = model.get_classifier()
    prefix = next((n for n, m in model.named_modules() if m is classifier), None)
    return set() if prefix is None else {f"{prefix}.{k}" for k in classifier.state_dict()}


def origin(name: str) -> str:
    return f"timm.create_model({name!r})"


def library_state(name: str, value: str) -> dict[str, Tensor]:
    """The state dict of timm's pretrained weights ``value`` (DEFAULT or a tag), through timm's own download
    and cache; offline without a cached copy: one clear error naming what to download and where it goes."""
    full = library_identity(name, value)
    try:
        with torch.random.fork_rng(devices=[]):
            return timm.create_model(full, pretrained=True).state_dict()
    except Exception as err:  # noqa: BLE001  (offline, timeouts, a damaged download: all mean no weights)
        cfg = get_pretrained_cfg(full)
        if cfg.hf_hub_id:
            from huggingface_hub.constants import HF_HUB_CACHE  # a dependency of timm

            fetch = (f"download https://huggingface.co/{cfg.hf_hub_id} (its model.safetensors) elsewhere and give the "
                     f"file (--backbone-weights PATH), or put timm's Hugging Face cache of it in {HF_HUB_CACHE}/")
        else:
            fetch = (f"download {cfg.url} elsewhere and put it in {Path(torch.hub.get_dir()) / 'checkpoints'}/, or give "
                     "the file (--backbone-weights PATH)")
        raise AebnasError(f"cannot get the timm weights {full} of {PREFIX + name} ({type(err).__name__}: "
                          f"{_library.one_line(err)}); offline, {fetch}") from None
