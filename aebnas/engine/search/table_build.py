"""Building a benchmark table: ``n`` distinct architectures sampled from the space and trained by a
real search run (random strategy, resumable, any executor), a noise subset trained again with other
training seeds (one run per seed), then every trained network's curves and test metrics exported to
one compressed table file."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from aebnas.datasets import DATASETS
from aebnas.engine.evaluation import CURVES, CandidateOutputs
from aebnas.engine.execution import Executor
from aebnas.engine.search.config import SearchConfig
from aebnas.engine.search.loop import Search
from aebnas.engine.search.records import Trial, TrialState
from aebnas.engine.search.strategies import FixedDesign, RandomSearch
from aebnas.engine.tables import TABLE_SETTINGS, BenchmarkTable, TableCurve, TableEntry, TableResult
from aebnas.exceptions import AebnasError

#: the threshold methods whose curves a table stores: ``fine`` (aebnas) and ``grid`` (the paper's baseline)
TABLE_CURVES = ("fine", "grid")


def default_build_dir(out: str | Path) -> Path:
    """``tables/digits.json.gz`` -> ``tables/digits.build``: where the build's runs keep logits and weights."""
    out = Path(out)
    return out.with_name(out.name.split(".")[0] + ".build")


def build_table(out: str | Path, config: SearchConfig, n: int, seeds: int = 1, seed_subset: int | None = None,
                build_dir: str | Path | None = None, executor: Executor | None = None, data_dir: str | None = None,
                download: bool = False, progress: bool = False) -> BenchmarkTable:
    """Trains the table's architectures (or resumes), then writes the table to ``out`` and returns it.

    Args:
        out: the table file (gzip-compressed JSON).
        config: the search settings to train with (dataset, space, backbone, training flags, seed); its
            strategy, budget and confirmation are replaced (random sampling of ``n``, no confirmation).
        n: distinct architectures, sampled uniformly from the space (cheapest exit within the backbone's
            cost, as every search proposes).
        seeds: trainings per architecture of the noise subset (training seeds ``config.seed + k``; the
            data split and the frozen backbone stay those of ``config.seed``).
        seed_subset: how many architectures (the first sampled) form the noise subset (default: all).
        build_dir: the runs' folder (default :func:`default_build_dir`): every trial's exit logits and
            weights stay there; delete it once the table is written if they are not needed.
    """
    if seeds < 1:
        raise AebnasError(f"seeds must be >= 1; got {seeds}")
    if seed_subset is not None and not 1 <= seed_subset <= n:
        raise AebnasError(f"seed_subset must be in 1..{n} (the table's architectures); got {seed_subset}")
    if config.table is not None:
        raise AebnasError("a table is built by training; give a config without a table")
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir(out)
    base = dataclasses.replace(config, strategy=RandomSearch(), budget=n, batch_size=min(config.batch_size, n),
                               confirm_top=0, train_seed=None)
    start = time.perf_counter()
    first = _run(build_dir / "seed-0", base, executor, data_dir, download, progress)
    archs = [t.arch for t in first][:seed_subset or n]
    noise = []
    for k in range(1, seeds):
        run_dir = build_dir / f"seed-{k}"
        _share_backbone(build_dir / "seed-0", run_dir)
        repeat = dataclasses.replace(base, strategy=FixedDesign(archs), budget=len(archs), train_seed=base.seed + k,
                                     batch_size=min(base.batch_size, len(archs)))
        noise.append((base.seed + k, _run(run_dir, repeat, executor, data_dir, download, progress)))
    space = base.make_space(DATASETS.get(base.dataset).info)
    table = export_table([(base.seed, build_dir / "seed-0", first)] + [(s, build_dir / f"seed-{k + 1}", trials)
                                                                       for k, (s, trials) in enumerate(noise)],
                         base, space.describe(), build_info(time.perf_counter() - start, seeds, len(archs)))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.save(out)
    return table


def _run(run_dir: Path, config: SearchConfig, executor: Executor | None, data_dir: str | None, download: bool,
         progress: bool) -> list[Trial]:
    """Runs (or resumes) one build run; its complete trials in order of trial number."""
    with Search(run_dir, config=config, data_dir=data_dir, download=download, progress=progress) as search:
        search.run(executor=executor)
        return sorted(search.trials(TrialState.COMPLETE), key=lambda t: t.number)


def _share_backbone(source: Path, run_dir: Path) -> None:
    """The noise runs train their branches on the same frozen backbone (same data seed and backbone
    settings, so the same content-hash key): copy it instead of training it again."""
    if (source / "backbones").is_dir():
        shutil.copytree(source / "backbones", run_dir / "backbones", dirs_exist_ok=True)


def export_table(runs: list[tuple[int, Path, list[Trial]]], config: SearchConfig, space: dict[str, Any],
                 build: dict[str, Any]) -> BenchmarkTable:
    """The table of ``runs`` (training seed, run folder, complete trials; the first run defines the
    architectures): every trial's fine and grid curves with their test metrics, from its stored outputs."""
    results: dict[str, list[TableResult]] = {}
    order: list[Trial] = []
    for seed, run_dir, trials in runs:
        for trial in trials:
            if trial.arch_id not in results:
                if results and seed != runs[0][0]:
                    continue  # only the first run adds architectures
                results[trial.arch_id] = []
                order.append(trial)
            results[trial.arch_id].append(_result(seed, run_dir, trial, config.rule))
    identity = config.identity()
    settings = {k: identity.get(k) for k in (*TABLE_SETTINGS, "seed")}
    entries = tuple(TableEntry(t.arch, tuple(t.path_macs), tuple(results[t.arch_id])) for t in order)
    return BenchmarkTable(settings, space, entries, build)


def _result(seed: int, run_dir: Path, trial: Trial, rule: str) -> TableResult:
    outputs = CandidateOutputs.load(run_dir / trial.outputs_path)
    curves = {method: TableCurve.measure(trial.curve if method == "fine" else CURVES.get(method)(outputs.val,
                                                                                                 trial.path_macs, rule),
                                         outputs, trial.path_macs)
              for method in TABLE_CURVES}
    return TableResult(seed, float(trial.train_seconds or 0.0), trial.metrics.exit_accuracy_val,
                       trial.metrics.exit_accuracy_test, curves)


def build_info(seconds: float, seeds: int, noise_subset: int) -> dict[str, Any]:
    """Where and how a table was built (free-form, for `table show`)."""
    return {"machine": f"{platform.node()}: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
                       f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}",
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "seconds_last_build_call": seconds,
            "seeds": seeds, "noise_subset": noise_subset if seeds > 1 else 0,
            "built": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
