"""The self-contained interactive ``report.html``: the run's trials, front, confirmed candidates, progress and
predictor quality as compact JSON, in one page with plotly.js and the report's own script and style inline."""

from __future__ import annotations

import json
import platform
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from aebnas.engine.search.records import ConfirmedCandidate, Trial
from aebnas.search_space import backbone_stage_macs, path_costs

_ASSETS = resources.files("aebnas.engine.search") / "report_assets"
_VERSIONED = ("aebnas", "torch", "botorch", "xgboost", "plotly")


def _round(values, digits: int = 6) -> list:
    return [None if v is None else float(f"{v:.{digits}g}") for v in values]


def _curve(curve) -> dict[str, list]:
    """A trade-off curve as rounded columns (thresholds `k x (exits - 1)`, exit fractions `k x exits`)."""
    return {"macs": _round(curve.avg_macs.tolist()), "acc": _round(curve.accuracy.tolist()),
            "thr": [_round(row, 4) for row in curve.thresholds.tolist()],
            "frac": [_round(row, 3) for row in curve.exit_fractions.tolist()]}


def _trial(search, t: Trial) -> dict[str, Any]:
    costs = path_costs(t.arch, search.info.input_shape, search.info.num_classes)
    return {
        "n": t.number, "arch": t.arch_id, "state": t.state.value, "source": t.source, "budget": t.macs_budget,
        "pred": [t.predicted.mean, t.predicted.std] if t.predicted else None,
        "measured": t.metrics.accuracy_at_macs_budget, "at_target": t.metrics.accuracy_at_target,
        "paths": list(costs.paths), "branches": list(costs.branches),
        "exits": [{"pos": e.position, "layers": [layer.to_dict() for layer in e.branch]} for e in t.arch.exits],
        "train_s": t.train_seconds, "finished": t.finished, "error": t.error,
        "curve": _curve(t.curve) if t.curve is not None else None,
    }


def _confirmed(c: ConfirmedCandidate) -> dict[str, Any]:
    return {"arch": c.arch_id, "trial": c.trial_number, "budget": c.macs_budget, "verified": c.verified,
            "over_budget": c.over_budget, "val": {"accuracy": c.val.accuracy, "avg_macs": c.val.avg_macs},
            "test": c.test.to_dict() | {"thresholds": _round(c.test.thresholds.tolist(), 4)},
            "real": {"acc": c.real_inference.accuracy, "macs": c.real_inference.avg_macs},
            "val_curve": _curve(c.val_curve), "test_curve": {"macs": [m for m, _ in c.test_curve],
                                                              "acc": [a for _, a in c.test_curve]}}


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def report_payload(search, report: dict[str, Any], order: list[Trial]) -> dict[str, Any]:
    """What the page draws: ``report`` (:func:`~aebnas.engine.search.report.build_report`) with every trial
    and confirmed candidate in full, and the finish ``order`` of the complete trials (their trial numbers)."""
    space, info = search.space, search.info
    return {
        "report": report, "versions": _versions(), "target": search.config.target_macs,
        "table": search.config.table,
        "stages": list(backbone_stage_macs(space.backbone, space.backbone_options, info.input_shape, info.num_classes)),
        "trials": [_trial(search, t) for t in search.trials()],
        "confirmed": [_confirmed(c) for c in search.store.confirmed().values()],
        "order": [t.number for t in order],
    }


def write_html(payload: dict[str, Any], path: str | Path) -> Path:
    """Writes the page for ``payload`` (:func:`report_payload`) to ``path``: one file, opened offline."""
    from plotly.offline import get_plotlyjs

    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    page = (_ASSETS / "report.html").read_text().format(
        title=f"aebnas report: {payload['report']['run_dir']}", style=(_ASSETS / "report.css").read_text(),
        plotly=get_plotlyjs(), data=data, script=(_ASSETS / "report.js").read_text())
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)
