"""Exporting an early-exit network for deployment: its segments as ONNX models or TorchScript modules and a
manifest, written to a fresh directory, then run by the runtime on the test split and compared with
``EarlyExitNet.infer``."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from aebnas.checks import check_output_dir
from aebnas.datasets import DatasetInfo, DatasetSplits, Split
from aebnas.engine.export.segments import split_network
from aebnas.engine.export.selection import Selection, select
from aebnas.engine.export.writers import WRITERS
from aebnas.engine.search import Search
from aebnas.exceptions import AebnasError
from aebnas.exit_rules import EXIT_RULES
from aebnas.runtime import BACKENDS, EarlyExitRuntime, Latency, Manifest, Measured
from aebnas.search_space import Architecture, EarlyExitNet, LatencyCost, build, path_costs
from aebnas.search_space.latency import LatencyTable


def check_export_dir(out: str | Path) -> Path:
    """``out`` if it is a new or empty directory that can be written; else a clear AebnasError."""
    out = check_output_dir(out, "export directory")
    if out.is_dir():
        names = sorted(p.name for p in out.iterdir())
        if names:
            raise AebnasError(f"export directory {out} exists and holds {len(names)} other entries ("
                              f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); give a new or empty "
                              "directory")
    return out


def path_latency(table: LatencyTable, arch: Architecture, rule: str, info: DatasetInfo) -> Latency:
    """The path latency of ``arch`` from ``table``, which must be profiled for its space, inputs and ``rule``."""
    if (table.input_shape, table.num_classes, table.rule) != (tuple(info.input_shape), info.num_classes, rule):
        raise AebnasError(f"the latency table is for {'x'.join(map(str, table.input_shape))} inputs, "
                          f"{table.num_classes} classes and the {table.rule} exit rule; this network has "
                          f"{'x'.join(map(str, info.input_shape))}, {info.num_classes} and {rule}: profile with "
                          f"`aebnas profile --dataset {info.name} --rule {rule}`")
    error = table.composition.mean_abs_error if table.composition else None
    return Latency(table.path_costs(arch).paths, table.device, table.batch, error)


def export_network(model: EarlyExitNet, arch: Architecture, thresholds: Sequence[float], rule: str,
                   data: DatasetSplits, fmt: str, out: str | Path, source: str = "",
                   latency_table: LatencyTable | None = None) -> Manifest:
    """Writes ``model`` (the network of ``arch``) to ``out`` as segments in format ``fmt`` with a manifest.

    Args:
        thresholds: `exits - 1` early-exit thresholds under ``rule`` (+inf: never exit there).
        data: the splits it was trained on: their normalisation goes into the manifest, and the exported
            network is run on ``data.test`` and compared with ``model.infer`` (``Manifest.test``).
        source: a line naming where the network comes from.
        latency_table: a table of ``arch``'s space (``aebnas profile``): the manifest then holds path latency.
    Returns:
        The manifest written to ``out/manifest.json``. The directory appears complete or not at all.
    """
    write = WRITERS.get(fmt)
    EXIT_RULES.get(rule)
    out = check_export_dir(out)
    if len(thresholds) != len(arch.exits):
        raise AebnasError(f"{arch.id} has {len(arch.exits)} early exits; got {len(thresholds)} thresholds")
    info = data.info
    if len(data.mean) != info.input_shape[0] or len(data.std) != info.input_shape[0]:
        raise AebnasError(f"the {info.name} splits carry no per-channel normalisation (mean, std) for the manifest; "
                          "load them with aebnas.datasets.load_dataset")
    latency = None if latency_table is None else path_latency(latency_table, arch, rule, info)
    costs = path_costs(arch, info.input_shape, info.num_classes)
    model = model.cpu().eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.export-"))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # as a directory made with mkdir (mkdtemp makes it private)
    try:
        segments = split_network(model, arch, costs, info.input_shape, rule, BACKENDS.get(fmt).suffix)
        for segment in segments:
            write(segment.module, torch.zeros(2, *segment.spec.input_shape), staging / segment.spec.file,
                  segment.outputs)
        manifest = Manifest(
            format=fmt, segments=tuple(s.spec for s in segments), positions=arch.positions,
            thresholds=tuple(float(t) for t in thresholds), rule=rule, path_macs=costs.paths,
            input_shape=tuple(info.input_shape), mean=data.mean, std=data.std, num_classes=info.num_classes,
            dataset=info.name, architecture=arch.to_dict(), arch_id=arch.id, source=source, test=None,
            aebnas_version=importlib.metadata.version("aebnas"), latency=latency)
        manifest.check()
        runtime = EarlyExitRuntime(manifest, staging, BACKENDS.get(fmt)("cpu", torch.get_num_threads()))
        manifest = dataclasses.replace(manifest, test=measure(runtime, model, data.test))
        manifest.save(staging)
        if out.is_dir():
            out.rmdir()  # empty (checked): the complete export takes its place
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def measure(runtime: EarlyExitRuntime, model: EarlyExitNet, split: Split) -> Measured:
    """The runtime's accuracy, average MACs and exit fractions on ``split`` (normalised images), and whether
    each prediction and exit equals ``model.infer`` with the same thresholds and rule."""
    m = runtime.manifest
    result = runtime.run(split.x.numpy(), normalised=True)
    predictions, exits = model.infer(split.x, torch.tensor(m.thresholds, dtype=torch.float32), m.rule)
    agrees = np.array_equal(result.predictions, predictions.numpy()) and np.array_equal(result.exits, exits.numpy())
    return Measured(float((result.predictions == split.y.numpy()).mean()), float(result.macs.mean()),
                    tuple(result.exit_fractions(m.num_exits).tolist()), agrees)


def load_network(search: Search, chosen: Selection) -> EarlyExitNet:
    """The chosen network with its weights: a confirmed candidate's or a joint trial's whole network; a
    fast-mode trial's branches on the run's frozen backbone."""
    path = search.run_dir / chosen.checkpoint
    if not path.is_file():
        raise AebnasError(f"the weights of {chosen.source} are missing ({path}); rerun the search to retrain it")
    weights = torch.load(path, map_location="cpu", weights_only=True)
    if chosen.confirmed or search.config.mode == "joint":
        model = build(chosen.arch, search.info)
        model.load_state_dict(weights)
        return model
    model = search.backbone.exits_only_model(chosen.arch, search.data)
    model.branches.load_state_dict(weights)
    return model


def export_run(run_dir: str | Path, fmt: str, out: str | Path, arch_id: str | None = None,
               confirmed: str | None = None, target_macs: float | None = None, data_dir: str | None = None,
               latency_table: str | Path | None = None) -> Manifest:
    """Exports a network of the run in ``run_dir`` (see :func:`~aebnas.engine.export.selection.select` for
    ``arch_id``, ``confirmed`` and ``target_macs``, the latter in the run's cost unit) to ``out`` in format
    ``fmt``, with path latency from the table file ``latency_table`` if given (else, in a run whose cost is
    latency, from the run's table). Every argument is checked before the dataset is loaded; the run is
    only read."""
    WRITERS.get(fmt)
    check_export_dir(out)
    table = None if latency_table is None else LatencyTable.load(latency_table)
    with Search.open(run_dir, data_dir=data_dir) as search:
        chosen = select(search, arch_id, confirmed, target_macs)
        rule = search.config.rule
        if table is None and isinstance(search.space.cost, LatencyCost):  # a latency-cost run: its own table
            table = search.space.cost.table
        if table is not None:
            path_latency(table, chosen.arch, rule, search.info)
        model = load_network(search, chosen)
        return export_network(model, chosen.arch, chosen.thresholds.thresholds.tolist(), rule, search.data, fmt,
                              out, chosen.source, table)
