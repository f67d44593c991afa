"""Benchmark tables: architectures of one search setting trained once (some with several training
seeds), with their validation trade-off curves and the test metrics of every curve point, so that a
search strategy can be run against the table many times without training anything."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from aebnas.engine.evaluation import CandidateOutputs, TradeoffCurve
from aebnas.engine.evaluation.thresholds import evaluate_thresholds
from aebnas.exceptions import InvalidArchitectureError, TableError
from aebnas.search_space import Architecture

TABLE_FORMAT = "aebnas-benchmark-table"
TABLE_VERSION = 1
#: search settings a table fixes (a search against it takes them from the table)
TABLE_SETTINGS = ("dataset", "space", "mode", "epochs", "backbone_epochs", "train_batch_size", "lr", "rule",
                  "backbone", "backbone_options", "max_exits", "val_size", "max_train")


@dataclass(frozen=True, eq=False)
class TableCurve:
    """A trained network's validation trade-off curve (``val``, `k` points) and each point's thresholds
    measured on test: `k` ``test_accuracy`` and `k` ``test_avg_macs``."""

    val: TradeoffCurve
    test_accuracy: tuple[float, ...]
    test_avg_macs: tuple[float, ...]

    @classmethod
    def measure(cls, val: TradeoffCurve, outputs: CandidateOutputs, path_macs: Sequence[int]) -> "TableCurve":
        """``val`` and its thresholds applied to ``outputs.test``."""
        test = evaluate_thresholds(outputs.test, path_macs, val.thresholds, val.rule)
        return cls(val, tuple(test.accuracy.tolist()), tuple(test.avg_macs.tolist()))

    def to_dict(self) -> dict[str, Any]:
        return {"val": self.val.to_dict(), "test_accuracy": list(self.test_accuracy),
                "test_avg_macs": list(self.test_avg_macs)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TableCurve":
        val = TradeoffCurve.from_dict(d["val"])
        test_accuracy, test_avg_macs = tuple(map(float, d["test_accuracy"])), tuple(map(float, d["test_avg_macs"]))
        if not len(val) == len(test_accuracy) == len(test_avg_macs):
            raise ValueError("a curve's test metrics must have one value per validation point")
        return cls(val, test_accuracy, test_avg_macs)


@dataclass(frozen=True, eq=False)
class TableResult:
    """One training of one architecture: its training ``seed``, the seconds it took, each exit's
    accuracy alone on validation and test (`exits` each), and its curves by threshold method (``fine``,
    and the paper's ``grid``)."""

    seed: int
    train_seconds: float
    exit_accuracy_val: tuple[float, ...]
    exit_accuracy_test: tuple[float, ...]
    curves: dict[str, TableCurve]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "train_seconds": self.train_seconds,
                "exit_accuracy_val": list(self.exit_accuracy_val), "exit_accuracy_test": list(self.exit_accuracy_test),
                "curves": {method: curve.to_dict() for method, curve in self.curves.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TableResult":
        return cls(int(d["seed"]), float(d["train_seconds"]), tuple(map(float, d["exit_accuracy_val"])),
                   tuple(map(float, d["exit_accuracy_test"])),
                   {method: TableCurve.from_dict(c) for method, c in d["curves"].items()})


@dataclass(frozen=True, eq=False)
class TableEntry:
    """An architecture of the table, its exact path MACs (`exits`), and its trainings (the first with
    the table's own seed; more for the noise subset)."""

    arch: Architecture
    path_macs: tuple[int, ...]
    results: tuple[TableResult, ...]

    @property
    def arch_id(self) -> str:
        return self.arch.id

    def result(self, search_seed: int) -> TableResult:
        """The training a search with ``search_seed`` sees: result ``search_seed mod len(results)``, so
        that searches with different seeds see the training noise a real search would."""
        return self.results[search_seed % len(self.results)]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.arch_id, "arch": self.arch.to_dict(), "path_macs": list(self.path_macs),
                "results": [r.to_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TableEntry":
        arch = Architecture.from_dict(d["arch"])
        if arch.id != d["id"]:
            raise ValueError(f"architecture id {d['id']} does not match its spec ({arch.id})")
        results = tuple(TableResult.from_dict(r) for r in d["results"])
        if not results:
            raise ValueError(f"architecture {arch.id} has no result")
        return cls(arch, tuple(int(m) for m in d["path_macs"]), results)


@dataclass(frozen=True, eq=False)
class BenchmarkTable:
    """A benchmark table: the search ``settings`` its architectures were trained with (the fields of
    :data:`TABLE_SETTINGS` and the data ``seed``), the ``space`` description, the ``entries``, and how
    it was built (``build``: machine, seconds, seeds; free-form), and the ``path`` it was read from."""

    settings: dict[str, Any]
    space: dict[str, Any]
    entries: tuple[TableEntry, ...]
    build: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # where it was read from (not stored in the file)

    def __post_init__(self) -> None:
        ids = [e.arch_id for e in self.entries]
        if len(set(ids)) != len(ids):
            raise TableError("a benchmark table must hold each architecture once")
        object.__setattr__(self, "_by_id", dict(zip(ids, self.entries)))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def architectures(self) -> list[Architecture]:
        return [e.arch for e in self.entries]

    @property
    def curve_methods(self) -> list[str]:
        return sorted(self.entries[0].results[0].curves) if self.entries else []

    @property
    def training_settings(self) -> dict[str, Any]:
        """The search settings the table fixes (:data:`TABLE_SETTINGS`), as a search config takes them."""
        return {k: self.settings[k] for k in TABLE_SETTINGS}

    @property
    def noise_entries(self) -> list[TableEntry]:
        """The entries trained with more than one seed."""
        return [e for e in self.entries if len(e.results) > 1]

    def entry(self, arch_id: str) -> TableEntry:
        entry = self._by_id.get(arch_id)  # type: ignore[attr-defined]
        if entry is None:
            raise TableError(f"architecture {arch_id} is not in the benchmark table ({len(self)} architectures); "
                             "a search against a table proposes only its members")
        return entry

    def __contains__(self, arch_id: str) -> bool:
        return arch_id in self._by_id  # type: ignore[attr-defined]

    def check_search(self, settings: dict[str, Any], curve_method: str, budget: int | None = None) -> None:
        """Refuses a search whose ``settings`` (a search config's identity) contradict the table's, whose
        strategy's ``curve_method`` the table lacks, or whose ``budget`` (if given) exceeds the table's size."""
        diff = [f"{k}={settings.get(k)!r} (the table's: {self.settings[k]!r})" for k in TABLE_SETTINGS
                if settings.get(k) != self.settings[k]]
        if diff:
            raise TableError(f"the benchmark table was trained with other settings than the search's "
                             f"{', '.join(diff)}; a search against a table takes its dataset, space, backbone "
                             "and training settings from the table: leave them out")
        if curve_method not in self.curve_methods:
            raise TableError(f"the strategy tunes thresholds with the {curve_method!r} method; the table holds "
                             f"curves of {', '.join(self.curve_methods)}")
        if budget is not None and budget > len(self):
            raise TableError(f"budget {budget} exceeds the {len(self)} architectures of the benchmark table; "
                             f"give a budget of at most {len(self)}")

    def to_dict(self) -> dict[str, Any]:
        return {"format": TABLE_FORMAT, "version": TABLE_VERSION, "settings": self.settings, "space": self.space,
                "build": self.build, "entries": [e.to_dict() for e in self.entries]}

    def save(self, path: str | Path) -> Path:
        """Writes the table as gzip-compressed JSON (atomically: a temporary file, then renamed)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(self.to_dict(), f, separators=(",", ":"), allow_nan=False)
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, d: Any, source: str | None = None) -> "BenchmarkTable":
        """The table of a dict read from the file at ``source`` (its ``path``)."""
        name = source or "the table"
        if not isinstance(d, dict) or d.get("format") != TABLE_FORMAT:
            raise TableError(f"{name} is not an aebnas benchmark table (no format {TABLE_FORMAT!r}); "
                             "build one with `aebnas table build`")
        if d.get("version") != TABLE_VERSION:
            raise TableError(f"{name} is a benchmark table of format version {d.get('version')!r}; this aebnas "
                             f"reads version {TABLE_VERSION}: build the table again with `aebnas table build`")
        try:
            entries = tuple(TableEntry.from_dict(e) for e in d["entries"])
            settings, space = dict(d["settings"]), dict(d["space"])
            missing = sorted(set(TABLE_SETTINGS + ("seed",)) - set(settings))
            if missing:
                raise ValueError(f"settings lack {', '.join(missing)}")
            return cls(settings, space, entries, dict(d.get("build") or {}), source)
        except (KeyError, TypeError, ValueError, AttributeError, InvalidArchitectureError) as err:
            raise TableError(f"{name} is a damaged benchmark table ({type(err).__name__}: {err}); "
                             "build it again with `aebnas table build`") from None


def load_table(path: str | Path) -> BenchmarkTable:
    """Reads a table written by :meth:`BenchmarkTable.save`; a clear TableError if it cannot."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"benchmark table {path} does not exist (or is not a file); build one with "
                         "`aebnas table build --out FILE`")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TableError(f"{path} is not a readable benchmark table ({type(err).__name__}); it must be the "
                         "gzip-compressed JSON that `aebnas table build` writes") from None
    return BenchmarkTable.from_dict(data, str(path))

