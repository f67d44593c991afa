"""The parts a search space combines into exit branches: every layer on every input shape a branch can give
it, and every classifier input shape, found by walking the branch depths from each exit position."""

from __future__ import annotations

import itertools

from aebnas.exceptions import AebnasError
from aebnas.search_space import LAYER_TYPES, LayerSpec, SearchSpace
from aebnas.search_space.latency import LatencyTable, classifier_key, layer_key


def layer_choices(space: SearchSpace, depth: int) -> list[LayerSpec]:
    """The layers a branch of ``space`` may hold at ``depth`` (1-based)."""
    fixed = space.preset.fixed_branch
    if fixed is not None:
        return [fixed[depth - 1]] if depth <= len(fixed) else []
    return [LAYER_TYPES.get(kind)(**dict(zip(options, values)))
            for kind, options in space.preset.layers.items() for values in itertools.product(*options.values())]


def branch_parts(space: SearchSpace) -> tuple[set[tuple[LayerSpec, int, int]], set[tuple[int, int]]]:
    """(every (layer, channels, size) input a branch layer of ``space`` can see, every (channels, size) a
    branch classifier can see)."""
    frontier = {(shape[0], min(shape[1:])) for shape in (space.stage_shapes[p - 1] for p in space.positions)}
    layers: set[tuple[LayerSpec, int, int]] = set()
    classifiers = set(frontier) if 0 in space.preset.depths else set()
    for depth in range(1, space.max_depth + 1):
        reached = set()
        for (channels, size), layer in itertools.product(frontier, layer_choices(space, depth)):
            out_channels, out_size = layer.output_shape(channels, size)
            if out_size >= 1:
                layers.add((layer, channels, size))
                reached.add((out_channels, out_size))
        frontier = reached
        if depth in space.preset.depths:
            classifiers |= frontier
    return layers, classifiers


def check_latency_table(table: LatencyTable, space: SearchSpace, rule: str) -> None:
    """Raises a clear AebnasError unless ``table`` times every part ``space`` can combine, with ``rule``'s
    exit check (the space's backbone and inputs are checked when the space is made with the table)."""
    if table.rule != rule:
        raise AebnasError(f"the latency table times the exit check of rule {table.rule!r}; this search uses rule "
                          f"{rule!r}: profile with `aebnas profile --rule {rule}`")
    layers, classifiers = branch_parts(space)
    missing = sorted({layer_key(*part) for part in layers} - set(table.layers)
                     | {classifier_key(*part) for part in classifiers} - set(table.classifiers))
    if missing:
        raise AebnasError(f"the latency table lacks {len(missing)} part(s) of search space {space.name!r} (e.g. "
                          f"{missing[0]}): it was profiled for another space; profile this one with "
                          f"`aebnas profile --space {space.name}`")
