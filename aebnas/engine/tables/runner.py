"""Trials answered by look-up in a benchmark table instead of training: the same TrialJob in, the same
TrialOutcome out, as if the table's training had just run for this search's seed."""

from __future__ import annotations

from aebnas.engine.execution import TrialJob, TrialOutcome, TrialSettings
from aebnas.engine.tables._table import BenchmarkTable
from aebnas.exceptions import AebnasError
from aebnas.search_space import path_costs


def check_local_executor(name: str) -> None:
    """Refuses any executor but ``local`` for a search against a table (look-ups need no workers)."""
    if name != "local":
        raise AebnasError(f"a search against a benchmark table looks its trials up in this process; use the "
                          f"local executor, not {name!r}")


class TableRunner:
    """Answers trial jobs from ``table``: the training a search with ``search_seed`` sees
    (:meth:`TableEntry.result`), its curve for ``settings.curve_method``, and the training seconds the
    table recorded (so wall time can be accounted as if the candidates had trained)."""

    def __init__(self, table: BenchmarkTable, settings: TrialSettings, search_seed: int) -> None:
        self.table = table
        self.settings = settings
        self.search_seed = search_seed

    def prepare(self, progress: bool = False) -> None:
        """Nothing to prepare: no data and no backbone are needed."""

    def run(self, job: TrialJob) -> TrialOutcome:
        entry = self.table.entry(job.arch.id)
        result = entry.result(self.search_seed)
        costs = path_costs(job.arch, tuple(self.table.space["input_shape"]), self.table.space["num_classes"])
        return TrialOutcome(job.number, result.train_seconds, costs=costs,
                            curve=result.curves[self.settings.curve_method].val,
                            exit_accuracy_val=result.exit_accuracy_val, exit_accuracy_test=result.exit_accuracy_test)
