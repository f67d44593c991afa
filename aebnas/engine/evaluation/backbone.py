"""The frozen backbone of fast mode: trained once per (dataset, backbone, options, training config), or
taken from given weights with only its new head trained; saved under its content hash and reused, with
every split's stage features computed once in memory (as many stages as fit) so that each candidate
trains only its exit branches on them."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from aebnas.datasets import DatasetSplits
from aebnas.device import resolve_device
from aebnas.engine.evaluation.training import TrainConfig, TrainHistory, run_epochs, to_device_images, train_joint
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture, EarlyExitNet, build, build_backbone
from aebnas.search_space.backbones import BACKBONES, stage_shapes

SPLITS = ("train", "val", "test")


def available_memory() -> int:
    """Bytes of memory available to this process now (Linux: MemAvailable; else the free pages)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def feature_bytes(shapes: Sequence[tuple[int, int, int]], dtype: torch.dtype = torch.float16) -> tuple[int, ...]:
    """Bytes per image of each stage's `C x H x W` features in ``dtype``."""
    return tuple(c * h * w * torch.finfo(dtype).bits // 8 for c, h, w in shapes)


def data_tag(data: DatasetSplits) -> str:
    """Identifies the exact splits (sizes and a checksum of the labels) so cached backbones never mix data."""
    labels = torch.cat([data.train.y, data.val.y, data.test.y])
    return f"{len(data.train)}-{len(data.val)}-{len(data.test)}-{hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:8]}"


def backbone_key(data: DatasetSplits, backbone: str, options: dict[str, Any], config: TrainConfig) -> str:
    """Content hash of what determines a trained backbone: the data, the backbone and its options (given
    weights by their identity), and the training settings (not the device or progress display)."""
    weights = BACKBONES.get(backbone).weights_identity(options)
    if weights is not None:  # the weights' identity (an enum name, a file's checksum), not the path naming them
        options = {**options, "weights": weights}
    payload = {"dataset": data.info.name, "data": data_tag(data), "backbone": backbone,
               "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
               "train": {k: v for k, v in config.to_dict().items() if k not in ("device", "progress")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FrozenBackbone:
    """A trained backbone with cached per-stage features of every split.

    Attributes:
        model: the backbone as an EarlyExitNet without early exits, in eval mode, channels_last.
        features: split -> list over stages of `n x C_s x H_s x W_s` tensors (float16 or float32), None
            for a stage not cached (see ``stage_features``).
        final_logits: split -> `n x classes` float32 logits of the final classifier.
        key: content hash (:func:`backbone_key`), the name of its cache file.
        history: the training history of the backbone (from scratch), of its fine-tuning or of its new
            head (given weights); empty when loaded from the cache or when the weights brought their head.
        backbone, options: the registered backbone name and its canonical options.
        inputs: split -> `n x C x H x W` images, to recompute the stages that are not cached.
        note: what was made and cached, in one line.
        feature_dtype: the dtype of the features (cached or recomputed).
    """

    model: EarlyExitNet
    features: dict[str, list[Tensor | None]]
    final_logits: dict[str, Tensor]
    key: str
    history: TrainHistory
    backbone: str
    options: dict[str, Any]
    inputs: dict[str, Tensor]
    note: str = ""
    feature_dtype: torch.dtype = torch.float16

    @classmethod
    def prepare(cls, data: DatasetSplits, backbone: str, options: dict[str, Any] | None, config: TrainConfig,
                cache_dir: str | Path | None = None, feature_dtype: torch.dtype = torch.float16,
                max_feature_bytes: int | None = None) -> "FrozenBackbone":
        """Loads the backbone from ``cache_dir`` by content hash, or makes and saves it; then caches features.

        Made: trained from scratch (``config``); or, when the options give weights, loaded with them and
        frozen, its new head trained on the frozen features (``config``'s epochs and learning rate; none
        when the weights bring a head for the dataset's classes), or fine-tuned whole first when the
        backbone says so (``fine_tunes``). Features: every stage's when they fit in ``max_feature_bytes``
        (default: half the memory available now); else only the exit positions' stages; else none, and
        candidates recompute them per batch. The choice is printed to stderr.

        The weights are put in one memory layout (channels_last) whether just trained or loaded, so the
        features, and every result trained on them, are the same bit for bit either way."""
        backbone_cls = BACKBONES.get(backbone)
        options = backbone_cls.canonical_options(options)
        stages = _stages_to_cache(data, backbone, options, feature_dtype, max_feature_bytes)
        key = backbone_key(data, backbone, options, config)
        torch.manual_seed(config.seed)
        path = Path(cache_dir) / f"backbone-{key}.pt" if cache_dir else None
        history, weights, train_head = TrainHistory(), backbone_cls.weights_identity(options), False
        if path is not None and path.is_file():
            model = build_backbone(backbone, options, data.info)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            made = "loaded from the cache"
        elif weights is None:
            model = build_backbone(backbone, options, data.info)
            history = train_joint(model, data.train, data.info, config, desc="backbone")
            made = "trained from scratch"
        else:
            parts = backbone_cls.build(options, tuple(data.info.input_shape), data.info.num_classes, pretrained=data)
            model = EarlyExitNet(parts.stages, parts.head, torch.nn.ModuleList(), ())
            if backbone_cls.fine_tunes(options):
                history = train_joint(model, data.train, data.info, config, desc="fine-tune backbone")
                made = f"fine-tuned from {weights}"
            else:
                train_head = not parts.pretrained_head
                made = f"frozen with {weights}" + (", its new head trained" if train_head else " and their head")
        model.to(resolve_device(config.device), memory_format=torch.channels_last).eval().requires_grad_(False)
        features, final_logits, pooled = {}, {}, {}
        for name in SPLITS:
            features[name], final_logits[name], pooled[name] = _features(model, getattr(data, name).x, feature_dtype,
                                                                         stages)
        if train_head:
            history = _train_head(model, pooled["train"], data.train.y, config)
            final_logits = {name: _head_logits(model, pooled[name]) for name in SPLITS}
        if path is not None and not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(model.state_dict(), tmp)
            tmp.replace(path)
        cached = "every stage's features" if len(stages) == len(model.stages) else (
            f"features of stages {', '.join(str(s + 1) for s in stages)} only (the exit positions)" if stages else
            "no features (recomputed per batch)")
        note = f"backbone {backbone} {made}; caching {cached}"
        if len(stages) < len(model.stages):
            print(f"aebnas: {note}: every stage's features would not fit in the memory cap", file=sys.stderr)
        inputs = {name: getattr(data, name).x for name in SPLITS}
        return cls(model, features, final_logits, key, history, backbone, options, inputs, note, feature_dtype)

    def stage_features(self, split: str, index: Tensor | slice, positions: Sequence[int]) -> list[Tensor]:
        """Features of the 1-based stages ``positions`` for the samples ``index`` of ``split``, `batch x C_s x
        H_s x W_s` each: from the cache, or recomputed by the frozen backbone (rounded to the cache's dtype)."""
        cached = self.features[split]
        if all(cached[p - 1] is not None for p in positions):
            return [cached[p - 1][index] for p in positions]
        device = next(self.model.parameters()).device
        with torch.no_grad():
            x, out = to_device_images(self.inputs[split][index], device), {}
            for s, stage in enumerate(self.model.stages[:max(positions)]):
                x = stage(x)
                out[s + 1] = x
        return [cached[p - 1][index] if cached[p - 1] is not None else out[p].to("cpu", self.feature_dtype) for p in positions]

    def exits_only_model(self, arch: Architecture, data: DatasetSplits) -> EarlyExitNet:
        """``arch`` built with this backbone's trained (frozen) stages and head."""
        if arch.backbone != self.backbone or arch.backbone_options != self.options:
            raise AebnasError(
                f"architecture backbone {arch.backbone!r} {arch.backbone_options} differs from the cached backbone "
                f"{self.backbone!r} {self.options}"
            )
        model = build(arch, data.info)
        model.stages, model.head = self.model.stages, self.model.head
        return model


def _stages_to_cache(data: DatasetSplits, backbone: str, options: dict[str, Any], dtype: torch.dtype,
                     max_bytes: int | None) -> tuple[int, ...]:
    """0-based stages whose features are cached: all that fit in ``max_bytes`` (default half the available
    memory), else the exit positions' (the last stage serves only the final logits, cached apart), else none."""
    shapes = stage_shapes(backbone, options, data.info.input_shape)
    per_image = feature_bytes(shapes, dtype)
    n_total = sum(len(getattr(data, name)) for name in SPLITS)
    cap = available_memory() // 2 if max_bytes is None else max_bytes
    if n_total * sum(per_image) <= cap:
        return tuple(range(len(shapes)))
    exits = tuple(p - 1 for p in BACKBONES.get(backbone).positions(options))
    if n_total * sum(per_image[s] for s in exits) <= cap:
        return exits
    return ()


def _train_head(model: EarlyExitNet, pooled: Tensor, y: Tensor, config: TrainConfig) -> TrainHistory:
    """Trains the head of the frozen ``model`` on `n x C x 1 x 1` globally pooled last-stage features (the head
    pools first, so it gives the same logits on them as on the full features)."""
    device = next(model.parameters()).device
    head = model.head.requires_grad_(True)

    def batch_logits(indices: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return head(pooled[indices].to(device)).unsqueeze(1), y[indices].to(device)

    history = run_epochs(list(head.parameters()), [head], len(y), batch_logits, config, desc="backbone head")
    head.eval().requires_grad_(False)
    return history


@torch.no_grad()
def _head_logits(model: EarlyExitNet, pooled: Tensor, batch_size: int = 4096) -> Tensor:
    device = next(model.parameters()).device
    return torch.cat([model.head(pooled[i:i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(pooled), batch_size)])


@torch.no_grad()
def _features(model: EarlyExitNet, x: Tensor, dtype: torch.dtype, stages: Sequence[int], batch_size: int = 512):
    """(list over stages of `n x C_s x H_s x W_s` features in ``dtype``, None for those not in ``stages``;
    `n x classes` final logits; `n x C x 1 x 1` float32 globally pooled last-stage features), on the CPU."""
    device = next(model.parameters()).device
    per_stage: list[list[Tensor]] = [[] for _ in model.stages]
    logits, pooled = [], []
    for i in range(0, len(x), batch_size):
        feats = model.stage_features(to_device_images(x[i:i + batch_size], device))
        for s in stages:
            per_stage[s].append(feats[s].to("cpu", dtype).contiguous())
        logits.append(model.head(feats[-1]).float().cpu())
        pooled.append(F.adaptive_avg_pool2d(feats[-1], 1).float().cpu())
    features = [torch.cat(chunks) if s in stages else None for s, chunks in enumerate(per_stage)]
    return features, torch.cat(logits), torch.cat(pooled)
