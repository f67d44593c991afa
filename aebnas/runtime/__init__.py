"""Deploying an exported early-exit network (``aebnas export``): its manifest, and a runtime with real
early exit, on onnxruntime (ONNX; no torch needed) or torch (TorchScript)."""

from aebnas.runtime import _onnx, _torchscript  # noqa: F401  (registers the backends; neither loads its library yet)
from aebnas.runtime._base import BACKENDS, Backend
from aebnas.runtime.manifest import (MANIFEST_FILE, MANIFEST_VERSION, Latency, Manifest, ManifestError, Measured,
                                     Segment)
from aebnas.runtime.runtime import DEVICES, EarlyExitRuntime, RuntimeResult, load_runtime


def list_formats() -> list[str]:
    """Names of the export formats the runtime runs."""
    return BACKENDS.names()


__all__ = ["BACKENDS", "DEVICES", "MANIFEST_FILE", "MANIFEST_VERSION", "Backend", "EarlyExitRuntime", "Latency",
           "Manifest", "ManifestError", "Measured", "RuntimeResult", "Segment", "list_formats", "load_runtime"]
