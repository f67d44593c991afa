"""Export: a run's network cut into segments (ONNX or TorchScript) with a manifest, for the runtime in
:mod:`aebnas.runtime`."""

from aebnas.engine.export.export import (check_export_dir, export_network, export_run, load_network, measure,
                                         path_latency)
from aebnas.engine.export.segments import ExitBranch, SegmentModule, split_network
from aebnas.engine.export.selection import Selection, select
from aebnas.engine.export.writers import WRITERS

__all__ = ["WRITERS", "ExitBranch", "SegmentModule", "Selection", "check_export_dir", "export_network", "export_run",
           "load_network", "measure", "path_latency", "select", "split_network"]
