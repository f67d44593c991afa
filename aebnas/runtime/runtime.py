"""Real early exit on an exported network: each batch runs segment by segment, and after each early exit
only the samples still undecided run on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aebnas.checks import check_int
from aebnas.exceptions import AebnasError
from aebnas.runtime._base import BACKENDS, Backend, SegmentFn
from aebnas.runtime.manifest import Manifest, ManifestError

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class RuntimeResult:
    """What a batch of `n` samples gave.

    Attributes:
        predictions: `n` int64 predicted classes.
        exits: `n` int64 index of the exit each sample left at (the last = the final classifier).
        macs: `n` int64 exact MACs each sample cost (its exit path).
        latency_ms: `n` float64 latency of each sample's exit path from the manifest's latency table (None
            without one).
    """

    predictions: np.ndarray
    exits: np.ndarray
    macs: np.ndarray
    latency_ms: np.ndarray | None = None

    def exit_fractions(self, num_exits: int) -> np.ndarray:
        """`num_exits` fraction of the samples leaving at each exit."""
        return np.bincount(self.exits, minlength=num_exits) / max(len(self.exits), 1)

    @classmethod
    def concat(cls, parts: list["RuntimeResult"]) -> "RuntimeResult":
        latency = None if parts[0].latency_ms is None else np.concatenate([p.latency_ms for p in parts])
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("predictions", "exits", "macs")),
                   latency)


class EarlyExitRuntime:
    """An exported network loaded for inference (see :func:`load_runtime`)."""

    def __init__(self, manifest: Manifest, directory: Path, backend: Backend) -> None:
        self.manifest = manifest
        self.directory = directory
        self.backend = backend
        self._segments: list[SegmentFn] = [backend.load(directory / s.file) for s in manifest.segments]
        m = manifest
        self._mean = np.asarray(m.mean, np.float32).reshape(1, -1, 1, 1)
        self._std = np.asarray(m.std, np.float32).reshape(1, -1, 1, 1)
        self._thresholds = np.asarray(m.thresholds, np.float32)
        self._path_macs = np.asarray(m.path_macs, np.int64)
        self._path_ms = None if m.latency is None else np.asarray(m.latency.paths_ms, np.float64)

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """`n x C x H x W` raw images (as the dataset stores them, e.g. uint8 pixels) -> normalised float32."""
        return (self.check_inputs(images).astype(np.float32) - self._mean) / self._std

    def check_inputs(self, x: np.ndarray) -> np.ndarray:
        """``x`` if it is a real `n x C x H x W` array of this network's image shape; else a clear AebnasError."""
        shape = self.manifest.input_shape
        if not isinstance(x, np.ndarray) or x.ndim != 4 or tuple(x.shape[1:]) != shape or x.dtype.kind not in "uif":
            got = (f"an array of shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, np.ndarray)
                   else type(x).__name__)
            raise AebnasError(f"inputs must be a real array of shape n x {' x '.join(map(str, shape))} (a batch of "
                              f"{self.manifest.dataset} images); got {got}")
        return x

    def run(self, x: np.ndarray, normalised: bool = False, batch_size: int | None = None) -> RuntimeResult:
        """Early-exit inference on `n x C x H x W` images: raw (normalised here) or, with ``normalised``,
        already normalised float32; in chunks of ``batch_size`` (None: all at once)."""
        x = np.ascontiguousarray(self.check_inputs(x), np.float32) if normalised else self.normalise(x)
        step = max(len(x), 1) if batch_size is None else check_int("batch size", batch_size, 1)
        return RuntimeResult.concat([self._run(x[i:i + step]) for i in range(0, len(x), step)] or [self._run(x)])

    def _run(self, x: np.ndarray) -> RuntimeResult:
        n, backend = len(x), self.backend
        predictions = np.zeros(n, np.int64)
        exits = np.full(n, self.manifest.num_exits - 1, np.int64)
        alive = np.arange(n)
        h = backend.asarray(x)
        for segment, run in zip(self.manifest.segments, self._segments):
            if alive.size == 0:
                break
            outputs = run(h)
            if segment.kind == "stages":
                h = outputs[0]
            elif segment.kind == "branch":
                probs, scores = backend.numpy(outputs[0]), backend.numpy(outputs[1])
                leave = scores >= self._thresholds[segment.exit]
                predictions[alive[leave]] = probs[leave].argmax(axis=-1)
                exits[alive[leave]] = segment.exit
                alive, h = alive[~leave], backend.take(h, ~leave)
            else:
                predictions[alive] = backend.numpy(outputs[0]).argmax(axis=-1)
        return RuntimeResult(predictions, exits, self._path_macs[exits],
                             None if self._path_ms is None else self._path_ms[exits])


def load_runtime(directory: str | Path, device: str = "cpu", threads: int | None = None) -> EarlyExitRuntime:
    """The network exported in ``directory`` (by ``aebnas export``), loaded with the backend of its format.

    Args:
        device: ``cpu`` or ``cuda``.
        threads: intra-op threads of the backend (None: its default).
    """
    if device not in DEVICES:
        raise AebnasError(f"unknown runtime device {device!r}; allowed: {', '.join(DEVICES)}")
    if threads is not None:
        check_int("threads", threads, 1)
    directory = Path(directory)
    manifest = Manifest.load(directory)
    missing = [s.file for s in manifest.segments if not (directory / s.file).is_file()]
    if missing:
        raise ManifestError(f"{directory} misses segment file(s) {', '.join(missing)} named in its manifest; "
                            "export the network again")
    return EarlyExitRuntime(manifest, directory, BACKENDS.get(manifest.format)(device, threads))
