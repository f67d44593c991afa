"""Fast exits-only training: the backbone of a run is trained once per (dataset, backbone, options,
training config), saved by content hash and reused; its stage features are cached in memory so each
candidate trains only its exit branches on them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from aebnas.datasets import DatasetSplits
from aebnas.device import resolve_device
from aebnas.engine.outputs import CandidateOutputs, ExitOutputs
from aebnas.engine.training import TrainConfig, TrainHistory, predict_logits, run_epochs, to_device_images, train_joint
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture, EarlyExitNet, build
from aebnas.search_space.model import build_backbone
from aebnas.search_space.backbones import BACKBONES, stage_shapes

DEFAULT_FEATURE_BYTES = 8 * 2**30


def backbone_key(data: DatasetSplits, backbone: str, options: dict[str, Any], config: TrainConfig, data_tag: str) -> str:
    """Content hash of what determines a trained backbone."""
    payload = {"dataset": data.info.name, "data": data_tag, "backbone": backbone,
               "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
               "train": {k: v for k, v in config.to_dict().items() if k not in ("device", "progress")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def data_tag(data: DatasetSplits) -> str:
    """Identifies the exact splits (sizes and a checksum of the labels) so cached backbones never mix data."""
    labels = torch.cat([data.train.y, data.val.y, data.test.y])
    return f"{len(data.train)}-{len(data.val)}-{len(data.test)}-{hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:8]}"


@dataclass
class FrozenBackbone:
    """A trained backbone with cached per-stage features of every split.

    Attributes:
        model: the backbone as an EarlyExitNet without early exits.
        features: split -> list over stages of `n x C_s x H_s x W_s` tensors (float16 or float32).
        final_logits: split -> `n x classes` float32 logits of the final classifier.
        history: the backbone's training history (empty when loaded from the cache).
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
        """Loads the backbone from ``cache_dir`` by content hash, or trains and saves it; then caches features."""
        options = BACKBONES.get(backbone).canonical_options(options)
        shapes = stage_shapes(backbone, options, data.info.input_shape)
        n_total = len(data.train) + len(data.val) + len(data.test)
        needed = n_total * sum(c * h * w for c, h, w in shapes) * torch.finfo(feature_dtype).bits // 8
        if needed > max_feature_bytes:
            raise AebnasError(
                f"caching stage features needs {needed / 2**30:.1f} GiB, above the cap of {max_feature_bytes / 2**30:.1f} GiB; "
                "use float16 features, fewer training samples (max_train), or raise the cap"
            )
        key = backbone_key(data, backbone, options, config, data_tag(data))
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
        model.eval().requires_grad_(False)
        features, final_logits = {}, {}
        for name in ("train", "val", "test"):
            split = getattr(data, name)
            features[name], final_logits[name] = _features(model, split.x, config.device, feature_dtype)
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
def _features(model: EarlyExitNet, x: Tensor, device: str, dtype: torch.dtype, batch_size: int = 512):
    device = resolve_device(device)
    model.to(device)
    per_stage: list[list[Tensor]] = [[] for _ in model.stages]
    logits = []
    for i in range(0, len(x), batch_size):
        feats = model.stage_features(to_device_images(x[i:i + batch_size], device))
        for s, f in enumerate(feats):
            per_stage[s].append(f.to("cpu", dtype).contiguous())
        logits.append(model.head(feats[-1]).float().cpu())
    return [torch.cat(chunks) for chunks in per_stage], torch.cat(logits)


def train_exits(model: EarlyExitNet, backbone: FrozenBackbone, data: DatasetSplits, config: TrainConfig,
                desc: str = "exits") -> TrainHistory:
    """Trains only the early-exit branches of ``model`` on the cached features of the frozen backbone."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model.branches.to(device).to(memory_format=torch.channels_last)
    feats = backbone.features["train"]
    final = backbone.final_logits["train"]
    y_all = data.train.y

    def batch_logits(indices: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        logits = [branch(to_device_images(feats[p - 1][indices], device))
                  for branch, p in zip(model.branches, model.positions)]
        logits.append(final[indices].to(device, torch.float32))
        return torch.stack(logits, dim=1), y_all[indices].to(device)

    return run_epochs(list(model.branches.parameters()), [model.branches], len(data.train), batch_logits, config, desc)


@torch.no_grad()
def cached_outputs(model: EarlyExitNet, backbone: FrozenBackbone, data: DatasetSplits, device: str = "auto",
                   batch_size: int = 1024) -> CandidateOutputs:
    """Per-exit outputs on val and test from the cached features (no backbone run)."""
    device = resolve_device(device)
    model.branches.to(device).eval()
    result = {}
    for name in ("val", "test"):
        feats, n = backbone.features[name], len(getattr(data, name))
        chunks = []
        for i in range(0, n, batch_size):
            logits = [branch(to_device_images(feats[p - 1][i:i + batch_size], device)).float().cpu()
                      for branch, p in zip(model.branches, model.positions)]
            logits.append(backbone.final_logits[name][i:i + batch_size])
            chunks.append(torch.stack(logits, dim=1))
        result[name] = ExitOutputs(torch.cat(chunks), getattr(data, name).y)
    return CandidateOutputs(**result)


def full_outputs(model: nn.Module, data: DatasetSplits, device: str = "auto") -> CandidateOutputs:
    """Per-exit outputs on val and test by running the whole network."""
    return CandidateOutputs(
        val=ExitOutputs(predict_logits(model, data.val.x, device), data.val.y),
        test=ExitOutputs(predict_logits(model, data.test.x, device), data.test.y),
    )
