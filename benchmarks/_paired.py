"""Paired comparisons of two methods over the same seeds, shared by the benchmark scripts."""

from __future__ import annotations

import numpy as np
from scipy.stats import wilcoxon


def paired_p(a: list[float], b: list[float]) -> float | None:
    """One-sided paired Wilcoxon signed-rank p-value of a > b; None when every pair is tied."""
    diff = np.asarray(a) - np.asarray(b)
    if not np.any(diff != 0):
        return None
    return float(wilcoxon(a, b, alternative="greater").pvalue)


def paired(a: list[float], b: list[float]) -> str:
    """``p = ... (wins/ties/losses)`` of a against b, seed by seed."""
    diff = np.asarray(a) - np.asarray(b)
    wins, ties, losses = int((diff > 0).sum()), int((diff == 0).sum()), int((diff < 0).sum())
    p = paired_p(a, b)
    return f"{'tied' if p is None else f'p = {p:.2g}'} ({wins}/{ties}/{losses})"
