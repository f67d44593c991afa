"""Fast (exits-only) training: a candidate's early-exit branches trained on the cached stage features of
the run's frozen backbone, and its per-exit outputs computed from them without running the backbone (or with
it, for the stages whose features did not fit in memory)."""

from __future__ import annotations

import torch
from torch import Tensor

from aebnas.datasets import DatasetSplits
from aebnas.device import resolve_device
from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.outputs import CandidateOutputs, ExitOutputs
from aebnas.engine.evaluation.training import TrainConfig, TrainHistory, run_epochs, to_device_images
from aebnas.search_space import EarlyExitNet


def train_exits(model: EarlyExitNet, backbone: FrozenBackbone, data: DatasetSplits, config: TrainConfig,
                desc: str = "exits") -> TrainHistory:
    """Trains only the early-exit branches of ``model`` on the cached features of the frozen backbone."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model.branches.to(device).to(memory_format=torch.channels_last)
    final = backbone.final_logits["train"]
    y_all = data.train.y

    def batch_logits(indices: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        feats = backbone.stage_features("train", indices, model.positions)
        logits = [branch(to_device_images(f, device)) for branch, f in zip(model.branches, feats)]
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
        n, chunks = len(getattr(data, name)), []
        for i in range(0, n, batch_size):
            feats = backbone.stage_features(name, slice(i, i + batch_size), model.positions)
            logits = [branch(to_device_images(f, device)).float().cpu() for branch, f in zip(model.branches, feats)]
            logits.append(backbone.final_logits[name][i:i + batch_size])
            chunks.append(torch.stack(logits, dim=1))
        result[name] = ExitOutputs(torch.cat(chunks), getattr(data, name).y)
    return CandidateOutputs(**result)
