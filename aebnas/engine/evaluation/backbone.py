"""The frozen backbone of fast mode: trained once per (dataset, backbone, options, training config),
saved under its content hash and reused, with every split's stage features computed once in memory so
that each candidate trains only its exit branches on them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from aebnas.datasets import DatasetSplits
from aebnas.device import resolve_device
from aebnas.engine.evaluation.training import TrainConfig, TrainHistory, to_device_images, train_joint
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture, EarlyExitNet, build, build_backbone
from aebnas.search_space.backbones import BACKBONES, stage_shapes

DEFAULT_FEATURE_BYTES = 8 * 2**30
SPLITS = ("train", "val", "test")


def data_tag(data: DatasetSplits) -> str:
    """Identifies the exact splits (sizes and a checksum of the labels) so cached backbones never mix data."""
    labels = torch.cat([data.train.y, data.val.y, data.test.y])
    return f"{len(data.train)}-{len(data.val)}-{len(data.test)}-{hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:8]}"


def backbone_key(data: DatasetSplits, backbone: str, options: dict[str, Any], config: TrainConfig) -> str:
    """Content hash of what determines a trained backbone: the data, the backbone and its options, and
    the training settings (not the device or progress display)."""
    payload = {"dataset": data.info.name, "data": data_tag(data), "backbone": backbone,
               "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
               "train": {k: v for k, v in config.to_dict().items() if k not in ("device", "progress")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FrozenBackbone:
    """A trained backbone with cached per-stage features of every split.

    Attributes:
        model: the backbone as an EarlyExitNet without early exits, in eval mode, channels_last.
        features: split -> list over stages of `n x C_s x H_s x W_s` tensors (float16 or float32).
        final_logits: split -> `n x classes` float32 logits of the final classifier.
        key: content hash (:func:`backbone_key`), the name of its cache file.
        history: the backbone's training history (empty when loaded from the cache).
        backbone, options: the registered backbone name and its canonical options.
    """

    model: EarlyExitNet
    features: dict[str, list[Tensor]]
    final_logits: dict[str, Tensor]
    key: str
    history: TrainHistory
    backbone: str
    options: dict[str, Any]

    @classmethod
    def prepare(cls, data: DatasetSplits, backbone: str, options: dict[str, Any] | None, config: TrainConfig,
                cache_dir: str | Path | None = None, feature_dtype: torch.dtype = torch.float16,
                max_feature_bytes: int = DEFAULT_FEATURE_BYTES) -> "FrozenBackbone":
        """Loads the backbone from ``cache_dir`` by content hash, or trains and saves it; then caches features.

        The weights are put in one memory layout (channels_last) whether just trained or loaded, so the
        features, and every result trained on them, are the same bit for bit either way."""
        options = BACKBONES.get(backbone).canonical_options(options)
        shapes = stage_shapes(backbone, options, data.info.input_shape)
        n_total = sum(len(getattr(data, name)) for name in SPLITS)
        needed = n_total * sum(c * h * w for c, h, w in shapes) * torch.finfo(feature_dtype).bits // 8
        if needed > max_feature_bytes:
            raise AebnasError(
                f"caching stage features needs {needed / 2**30:.1f} GiB, above the cap of {max_feature_bytes / 2**30:.1f} GiB; "
                "use float16 features, fewer training samples (max_train), or raise the cap"
            )
        key = backbone_key(data, backbone, options, config)
        torch.manual_seed(config.seed)
        model = build_backbone(backbone, options, data.info)
        path = Path(cache_dir) / f"backbone-{key}.pt" if cache_dir else None
        history = TrainHistory()
        if path is not None and path.is_file():
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        else:
            history = train_joint(model, data.train, data.info, config, desc="backbone")
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                torch.save(model.state_dict(), tmp)
                tmp.replace(path)
        model.to(resolve_device(config.device), memory_format=torch.channels_last).eval().requires_grad_(False)
        features, final_logits = {}, {}
        for name in SPLITS:
            features[name], final_logits[name] = _features(model, getattr(data, name).x, feature_dtype)
        return cls(model, features, final_logits, key, history, backbone, options)

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


@torch.no_grad()
def _features(model: EarlyExitNet, x: Tensor, dtype: torch.dtype, batch_size: int = 512):
    """(list over stages of `n x C_s x H_s x W_s` features in ``dtype``, `n x classes` final logits), on the CPU."""
    device = next(model.parameters()).device
    per_stage: list[list[Tensor]] = [[] for _ in model.stages]
    logits = []
    for i in range(0, len(x), batch_size):
        feats = model.stage_features(to_device_images(x[i:i + batch_size], device))
        for s, f in enumerate(feats):
            per_stage[s].append(f.to("cpu", dtype).contiguous())
        logits.append(model.head(feats[-1]).float().cpu())
    return [torch.cat(chunks) for chunks in per_stage], torch.cat(logits)
