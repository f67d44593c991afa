"""Writers of one segment per export format, registered under the runtime's format names: ONNX through
``torch.onnx.export`` (the torch.export-based exporter, checked with ``onnx.checker``) and TorchScript
through ``torch.jit.trace``; both with a dynamic batch size."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from aebnas.exceptions import AebnasError
from aebnas.registry import Registry

Writer = Callable[[nn.Module, Tensor, Path, Sequence[str]], None]
WRITERS: Registry[Writer] = Registry("export format")


@WRITERS.register("onnx")
def write_onnx(module: nn.Module, example: Tensor, path: Path, outputs: Sequence[str]) -> None:
    """``module`` as an ONNX model at ``path``: input ``x`` (`batch x C x H x W`), ``outputs`` named, batch dynamic."""
    try:
        import onnx  # noqa: PLC0415  (an optional extra)
    except ImportError:
        raise AebnasError("exporting to ONNX needs onnx and onnxscript: pip install 'aebnas[onnx]'") from None
    with warnings.catch_warnings():  # the exporter's notes on its own internals, not the user's concern
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), dynamo=True, external_data=False, verbose=False,
                          input_names=["x"], output_names=list(outputs),
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
    onnx.checker.check_model(str(path), full_check=True)


@WRITERS.register("torchscript")
def write_torchscript(module: nn.Module, example: Tensor, path: Path, outputs: Sequence[str]) -> None:
    """``module`` traced to TorchScript at ``path`` (it returns ``outputs`` in order; batch dynamic)."""
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export, which has no runtime
        warnings.simplefilter("ignore")
        torch.jit.trace(module, example).save(str(path))
