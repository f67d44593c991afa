"""Benchmark tables: architectures trained once and stored with their curves and test metrics
(:class:`BenchmarkTable`), the space restricted to them (:class:`TableSpace`), and the runner that
answers a search's trials by look-up (:class:`TableRunner`)."""

from aebnas.engine.tables._table import (TABLE_SETTINGS, BenchmarkTable, TableCurve, TableEntry, TableResult,
                                         load_table)
from aebnas.engine.tables.runner import TableRunner, check_local_executor
from aebnas.engine.tables.space import TableSpace

__all__ = ["TABLE_SETTINGS", "BenchmarkTable", "TableCurve", "TableEntry", "TableResult", "TableRunner", "TableSpace",
           "check_local_executor", "load_table"]
