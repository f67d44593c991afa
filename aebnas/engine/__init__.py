"""The engine, one sub-package per stage of the data flow, each importing only the ones before it:
``evaluation`` (train a candidate, cache its exit outputs, tune thresholds), ``execution`` (jobs, the
per-process runner, executors), ``search`` (settings, store, strategies, the loop, confirmation, report)."""
