"""PNG plots of accuracy-vs-average-MACs trade-offs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from aebnas.engine.evaluation import TradeoffCurve, TunedThresholds  # noqa: E402


def plot_tradeoff(curves: Mapping[str, TradeoffCurve], path: str | Path, title: str = "",
                  tuned: Mapping[str, TunedThresholds] | None = None, target_macs: float | None = None) -> Path:
    """Step plots of accuracy vs average MACs (millions), one per curve; tuned points marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, curve in curves.items():
        ax.step(curve.avg_macs.numpy() / 1e6, 100 * curve.accuracy.numpy(), where="post", label=label)
    for label, point in (tuned or {}).items():
        ax.plot(point.avg_macs / 1e6, 100 * point.accuracy, "o", label=label)
    if target_macs is not None:
        ax.axvline(target_macs / 1e6, color="grey", linestyle="--", label="target")
    _finish(ax, fig, path, "average MMACs", "accuracy (%)", title)
    return Path(path)


def plot_points(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, xlabel: str,
                ylabel: str, title: str = "", lines: bool = False, logx: bool = False) -> Path:
    """Scatter (or line) plot of named (x, y) series; the first series is drawn faint when there are several."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (label, (x, y)) in enumerate(series.items()):
        faint = i == 0 and len(series) > 1 and not lines
        ax.plot(x, y, "-o" if lines else "o", label=label, markersize=2 if faint else 4, alpha=0.3 if faint else 1.0)
    if logx:
        ax.set_xscale("log")
    _finish(ax, fig, path, xlabel, ylabel, title)
    return Path(path)


def _finish(ax, fig, path, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
