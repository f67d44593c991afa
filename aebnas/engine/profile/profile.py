"""Measuring a latency table: every part a search space combines (each backbone stage, each branch layer on
each input shape the space can give it, each classifier, the head, the exit check) timed in eager PyTorch
with warm-up and repeats; then whole exit paths of sampled architectures timed end to end against the sum
of their parts (the composition error)."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from aebnas.checks import check_int
from aebnas.device import resolve_device
from aebnas.engine.profile.parts import branch_parts
from aebnas.exit_rules import EXIT_RULES, confidence
from aebnas.search_space import BACKBONES, EarlyExitNet, SearchSpace, build
from aebnas.search_space.latency import Composition, LatencyTable, Timing, classifier_key, layer_key


class Timer:
    """Times calls on one device: ``warmup`` calls, then ``repeats`` blocks of ``number`` calls (torch's
    benchmark timer, which synchronises CUDA); median and inter-quartile range per call, in ms."""

    def __init__(self, device: torch.device, batch: int, repeats: int = 7, number: int = 10, warmup: int = 5) -> None:
        self.device, self.batch = device, batch
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
        return self.time(module.to(self.device).eval(), self.input(*shape))


def _classifier(channels: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def profile_space(space: SearchSpace, device: str = "cpu", batch: int = 1, rule: str = "margin",
                  timer: Timer | None = None, progress: bool = False) -> LatencyTable:
    """The latency table of every part of ``space`` (weights are random: latency does not depend on them)."""
    EXIT_RULES.get(rule)
    check_int("batch", batch, 1)
    timer = timer or Timer(resolve_device(device), batch)
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
    check = timer.time(lambda logits: confidence(logits.float().softmax(dim=-1), rule), timer.input(space.num_classes))
    return LatencyTable(space.backbone, space.backbone_options, space.input_shape, space.num_classes, str(timer.device),
                        batch, rule, stages, head, layer_times, classifier_times, check)


def _path(model: EarlyExitNet, k: int, rule: str) -> Callable[[Tensor], None]:
    """Leaving at exit ``k`` of ``model``, run as the runtime runs it: stages, and each branch with its exit check."""
    exit_at = {p: j for j, p in enumerate(model.positions)}
    last = model.positions[k] if k < len(model.positions) else len(model.stages)

    def run(x: Tensor) -> None:
        for s in range(last):
            x = model.stages[s](x)
            if s + 1 in exit_at:
                confidence(model.branches[exit_at[s + 1]](x).float().softmax(dim=-1), rule)
        if k == len(model.positions):
            model.head(x)
    return run


def check_composition(table: LatencyTable, space: SearchSpace, n: int = 10, seed: int = 0,
                      timer: Timer | None = None) -> Composition:
    """Times every exit path of ``n`` sampled architectures of ``space`` end to end, against ``table``'s sums."""
    timer = timer or Timer(torch.device(table.device), table.batch)
    errors = []
    with torch.random.fork_rng(devices=[]):
        for arch in space.sample_many(n, seed):
            model = build(arch, space).to(timer.device).eval()
            summed = table.path_costs(arch).paths
            for k in range(arch.num_exits):
                whole = timer.time(_path(model, k, table.rule), timer.input(*space.input_shape)).median_ms
                errors.append(abs(summed[k] / whole - 1))
    return Composition(len(errors), float(np.mean(errors)), float(np.max(errors)))
