"""Measuring a latency table: every part a search space combines (each backbone stage, each branch layer on
each input shape the space can give it, each classifier, the head, the exit check) timed with warm-up and
repeats, in eager PyTorch or traced to TorchScript (as `aebnas export --format torchscript` runs it); then
whole exit paths of sampled architectures timed end to end the same way against the sum of their parts
(the composition error)."""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from aebnas.checks import check_int
from aebnas.device import resolve_device
from aebnas.exceptions import AebnasError
from aebnas.engine.profile.parts import branch_parts
from aebnas.exit_rules import EXIT_RULES, confidence
from aebnas.search_space import BACKBONES, EarlyExitNet, SearchSpace, build
from aebnas.search_space.latency import Composition, LatencyTable, Timing, classifier_key, layer_key


#: how modules run while timed: eager PyTorch, or traced to TorchScript first
RUNTIMES = ("eager", "torchscript")


class Timer:
    """Times calls on one device: ``warmup`` calls, then ``repeats`` blocks of ``number`` calls (torch's
    benchmark timer, which synchronises CUDA); median and inter-quartile range per call, in ms. Modules run
    in ``runtime`` (:data:`RUNTIMES`)."""

    def __init__(self, device: torch.device, batch: int, repeats: int = 7, number: int = 10, warmup: int = 5,
                 runtime: str = "eager") -> None:
        if runtime not in RUNTIMES:
            raise AebnasError(f"unknown runtime {runtime!r}; allowed: {', '.join(RUNTIMES)}")
        self.device, self.batch, self.runtime = device, batch, runtime
        self.repeats, self.number, self.warmup = repeats, number, warmup
        quiet = logging.getLogger("torch.utils.cpp_extension")  # its note on CUDA_HOME when imported without CUDA
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            from torch.utils import benchmark  # noqa: PLC0415
        finally:
            quiet.setLevel(level)
        self._benchmark = benchmark

    def input(self, *shape: int) -> Tensor:
        """A `batch x *shape` input on the device."""
        return torch.randn(self.batch, *shape, device=self.device)

    def time(self, fn: Callable[[Tensor], object], x: Tensor) -> Timing:
        timer = self._benchmark.Timer("fn(x)", globals={"fn": fn, "x": x}, num_threads=torch.get_num_threads())
        with torch.inference_mode():
            timer.timeit(self.warmup)
            times = [1e3 * timer.timeit(self.number).median for _ in range(self.repeats)]
        q1, median, q3 = np.percentile(times, [25, 50, 75])
        return Timing(float(median), float(q3 - q1))

    def module(self, module: nn.Module, shape: tuple[int, ...]) -> Timing:
        """``module`` on a `batch x *shape` input, in the timer's runtime."""
        module, x = module.to(self.device).eval(), self.input(*shape)
        if self.runtime == "torchscript":
            with torch.no_grad(), warnings.catch_warnings():  # torch.jit is deprecated, still the export's format
                warnings.simplefilter("ignore")
                module = torch.jit.trace(module, x)
        return self.time(module, x)


def _classifier(channels: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def profile_space(space: SearchSpace, device: str = "cpu", batch: int = 1, rule: str = "margin",
                  timer: Timer | None = None, progress: bool = False, runtime: str = "eager") -> LatencyTable:
    """The latency table of every part of ``space`` (weights are random: latency does not depend on them),
    run in ``runtime`` (:data:`RUNTIMES`; a given ``timer`` brings its own)."""
    EXIT_RULES.get(rule)
    check_int("batch", batch, 1)
    timer = timer or Timer(resolve_device(device), batch, runtime=runtime)
    shapes = (space.input_shape,) + space.stage_shapes
    with torch.random.fork_rng(devices=[]):
        parts = BACKBONES.get(space.backbone).build(space.backbone_options, space.input_shape, space.num_classes)
        stages = tuple(timer.module(stage, shape) for stage, shape in zip(parts.stages, shapes))
        head = timer.module(parts.head, shapes[-1])
        layers, classifiers = branch_parts(space)
        bar = tqdm(total=len(layers) + len(classifiers), desc="profile", disable=not progress)
        layer_times = {}
        for layer, channels, size in sorted(layers, key=lambda p: layer_key(*p)):
            layer_times[layer_key(layer, channels, size)] = timer.module(layer.build(channels, size),
                                                                         (channels, size, size))
            bar.update()
        classifier_times = {}
        for channels, size in sorted(classifiers):
            classifier_times[classifier_key(channels, size)] = timer.module(
                _classifier(channels, space.num_classes), (channels, size, size))
            bar.update()
        bar.close()
    check = timer.module(_ExitCheck(rule), (space.num_classes,))
    return LatencyTable(space.backbone, space.backbone_options, space.input_shape, space.num_classes, str(timer.device),
                        batch, rule, stages, head, layer_times, classifier_times, check, runtime=timer.runtime)


class _ExitCheck(nn.Module):
    """The exit rule's score of `batch x classes` logits."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = rule

    def forward(self, logits: Tensor) -> Tensor:
        return confidence(logits.float().softmax(dim=-1), self.rule)


class _Path(nn.Module):
    """Leaving at exit ``k`` of ``model``, run as the runtime runs it: stages, and each branch with its exit check
    (`batch x C x H x W` -> the scores of every exit passed, and the final logits when ``k`` is the last exit)."""

    def __init__(self, model: EarlyExitNet, k: int, rule: str) -> None:
        super().__init__()
        self.model, self.k, self.check = model, k, _ExitCheck(rule)
        self.exit_at = {p: j for j, p in enumerate(model.positions)}
        self.last = model.positions[k] if k < len(model.positions) else len(model.stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for s in range(self.last):
            x = self.model.stages[s](x)
            if s + 1 in self.exit_at:
                out.append(self.check(self.model.branches[self.exit_at[s + 1]](x)))
        if self.k == len(self.model.positions):
            out.append(self.model.head(x))
        return out


def check_composition(table: LatencyTable, space: SearchSpace, n: int = 10, seed: int = 0,
                      timer: Timer | None = None) -> Composition:
    """Times every exit path of ``n`` sampled architectures of ``space`` end to end, against ``table``'s sums."""
    timer = timer or Timer(torch.device(table.device), table.batch, runtime=table.runtime)
    errors = []
    with torch.random.fork_rng(devices=[]):
        for arch in space.sample_many(n, seed):
            model = build(arch, space).to(timer.device).eval()
            summed = table.path_costs(arch).paths
            for k in range(arch.num_exits):
                whole = timer.module(_Path(model, k, table.rule), space.input_shape).median_ms
                errors.append(abs(summed[k] / whole - 1))
    return Composition(len(errors), float(np.mean(errors)), float(np.max(errors)))
