"""Training loops: joint training of a whole early-exit network, the shared minibatch loop that fast
(exits-only) training also uses, and the per-exit outputs of a whole network. Data stays in memory as
tensors; images run channels_last."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from aebnas.checks import check_float, check_int, check_seed
from aebnas.datasets import DatasetInfo, DatasetSplits, Split, augment_batch
from aebnas.device import resolve_device
from aebnas.engine.evaluation.outputs import CandidateOutputs, ExitOutputs
from aebnas.exceptions import AebnasError, TrainingError


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run.

    ``exit_weights``: weight of each exit's cross-entropy (None = all 1, the paper's choice).
    ``distill``: weight of self-distillation from the final exit into the early exits (0 = off).
    """

    epochs: int = 3
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    exit_weights: tuple[float, ...] | None = None
    distill: float = 0.0
    distill_temperature: float = 3.0
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def __post_init__(self) -> None:
        check_int("training epochs", self.epochs, 1)
        check_int("training batch size", self.batch_size, 1)
        check_float("learning rate", self.lr, 0, low_open=True)
        check_float("label smoothing", self.label_smoothing, 0, 1, high_open=True)
        check_float("distillation weight", self.distill, 0)
        check_seed(self.seed)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class TrainHistory:
    """Per-epoch mean loss and train accuracy of each exit (`exits` list per epoch), and wall time."""

    loss: list[float] = field(default_factory=list)
    exit_accuracy: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0


def exit_loss(logits: Tensor, y: Tensor, config: TrainConfig) -> Tensor:
    """Weighted sum over exits of cross-entropy, plus optional self-distillation from the final exit.

    Args:
        logits: `batch x exits x classes`.
        y: `batch` labels.
    """
    exits = logits.shape[1]
    weights = config.exit_weights or (1.0,) * exits
    if len(weights) != exits:
        raise AebnasError(f"exit_weights has {len(weights)} values; the network has {exits} exits")
    loss = sum(w * F.cross_entropy(logits[:, k], y, label_smoothing=config.label_smoothing)
               for k, w in enumerate(weights) if w)
    if config.distill and exits > 1:
        t = config.distill_temperature
        teacher = (logits[:, -1].detach() / t).softmax(-1)
        student = (logits[:, :-1] / t).log_softmax(-1)
        kl = F.kl_div(student, teacher.unsqueeze(1).expand_as(student), reduction="none").sum(-1).mean(0)
        loss = loss + config.distill * t * t * kl.sum()
    return loss


def run_epochs(
    params: Sequence[nn.Parameter],
    modules: Sequence[nn.Module],
    n: int,
    batch_logits: Callable[[Tensor, torch.Generator], tuple[Tensor, Tensor]],
    config: TrainConfig,
    desc: str = "train",
) -> TrainHistory:
    """The minibatch loop: SGD with momentum and a per-step cosine schedule over ``config.epochs``.

    ``batch_logits(indices, generator)`` returns (`batch x exits x classes` logits, `batch` labels)
    for the sample indices of one minibatch. Raises TrainingError on a non-finite loss or out-of-memory.
    """
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=True)
    steps_per_epoch = math.ceil(n / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    history, start = TrainHistory(), time.perf_counter()
    for module in modules:
        module.train()
    bar = tqdm(total=config.epochs * steps_per_epoch, desc=desc, disable=not config.progress, leave=False)
    try:
        for epoch in range(config.epochs):
            order = torch.randperm(n, generator=generator)
            total_loss, correct, seen = 0.0, None, 0
            for step in range(steps_per_epoch):
                indices = order[step * config.batch_size:(step + 1) * config.batch_size]
                logits, y = batch_logits(indices, generator)
                loss = exit_loss(logits, y, config)
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"non-finite loss at epoch {epoch + 1}, step {step + 1}; try a lower learning rate (lr={config.lr})"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                with torch.no_grad():
                    hits = (logits.argmax(-1) == y.unsqueeze(1)).sum(0).cpu()
                correct = hits if correct is None else correct + hits
                total_loss += loss.item() * len(indices)
                seen += len(indices)
                bar.update()
                bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct[-1].item() / seen:.3f}")
            history.loss.append(total_loss / seen)
            history.exit_accuracy.append((correct.float() / seen).tolist())
    except RuntimeError as err:  # torch.OutOfMemoryError (CUDA) and the CPU allocator's failure
        if not isinstance(err, torch.OutOfMemoryError) and "can't allocate memory" not in str(err):
            raise
        raise TrainingError(f"out of memory while training ({str(err).splitlines()[0]}); lower the batch size") from None
    finally:
        bar.close()
    history.seconds = time.perf_counter() - start
    return history


def to_device_images(x: Tensor, device: torch.device) -> Tensor:
    """Moves a `batch x C x H x W` float batch to ``device`` in channels_last layout."""
    return x.to(device, dtype=torch.float32, non_blocking=True).contiguous(memory_format=torch.channels_last)


def train_joint(model: nn.Module, split: Split, info: DatasetInfo, config: TrainConfig,
                params: Sequence[nn.Parameter] | None = None, desc: str = "joint") -> TrainHistory:
    """Trains ``model`` (all exits together; or only ``params`` if given) on an in-memory split."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model.to(device).to(memory_format=torch.channels_last)
    augment = config.augment and (info.crop_padding > 0 or info.horizontal_flip)

    def batch_logits(indices: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x = split.x[indices]
        if augment:
            x = augment_batch(x, info, generator)
        return model(to_device_images(x, device)), split.y[indices].to(device)

    trainable = list(params) if params is not None else [p for p in model.parameters() if p.requires_grad]
    return run_epochs(trainable, [model], len(split), batch_logits, config, desc)


@torch.no_grad()
def predict_logits(model: nn.Module, x: Tensor, device: str | torch.device = "auto", batch_size: int = 512) -> Tensor:
    """`n x exits x classes` float32 logits of every exit, on the CPU, in eval mode."""
    device = resolve_device(device)
    model.to(device).eval()
    chunks = [model(to_device_images(x[i:i + batch_size], device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(chunks)


def full_outputs(model: nn.Module, data: DatasetSplits, device: str = "auto") -> CandidateOutputs:
    """Per-exit outputs on val and test by running the whole network."""
    return CandidateOutputs(
        val=ExitOutputs(predict_logits(model, data.val.x, device), data.val.y),
        test=ExitOutputs(predict_logits(model, data.test.x, device), data.test.y),
    )
