"""The self-contained interactive ``report.html``: the run's trials, front, confirmed candidates, progress and
predictor quality as compact JSON, in one page with plotly.js and the report's own script and style inline.

plotly.js is its basic bundle (scatter, bar and pie traces; ``report_assets/plotly-basic.min.js``, npm's
plotly.js-basic-dist-min, MIT): a quarter of the full bundle's size and of its time to load."""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from aebnas.engine.search.records import ConfirmedCandidate, Trial

_ASSETS = resources.files("aebnas.engine.search") / "report_assets"


def _round(values, digits: int = 6) -> list:
    return [None if v is None else float(f"{v:.{digits}g}") for v in values]


def _curve(curve) -> dict[str, list]:
    """A trade-off curve as rounded columns (thresholds `k x (exits - 1)`, exit fractions `k x exits`)."""
    return {"macs": _round(curve.avg_macs.tolist()), "acc": _round(curve.accuracy.tolist()),
            "thr": [_round(row, 4) for row in curve.thresholds.tolist()],
            "frac": [_round(row, 3) for row in curve.exit_fractions.tolist()]}


def _trial(search, t: Trial) -> dict[str, Any]:
    costs = search.space.costs(t.arch)
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
            "over_budget": c.over_budget, "tuned_on": c.tuned_on, "val": {"accuracy": c.val.accuracy, "avg_macs": c.val.avg_macs},
            "test": c.test.to_dict() | {"thresholds": _round(c.test.thresholds.tolist(), 4)},
            "real": {"acc": c.real_inference.accuracy, "macs": c.real_inference.avg_macs},
            "val_curve": _curve(c.val_curve), "test_curve": {"macs": [m for m, _ in c.test_curve],
                                                              "acc": [a for _, a in c.test_curve]}}


def report_payload(search, report: dict[str, Any], order: list[Trial]) -> dict[str, Any]:
    """What the page draws: ``report`` (:func:`~aebnas.engine.search.report.build_report`) with every trial
    and confirmed candidate in full, and the finish ``order`` of the complete trials (their trial numbers)."""
    return {
        "report": report, "target": search.config.target_macs,
        "table": search.config.table,
        "stages": list(search.space.stage_costs),
        "trials": [_trial(search, t) for t in search.trials()],
        "confirmed": [_confirmed(c) for c in search.store.confirmed().values()],
        "order": [t.number for t in order],
    }


def _json_safe(value):
    """``value`` with its infinite and NaN floats as strings ("inf", "-inf", "nan", as the front's points write
    them; the page's ``num`` reads them): JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def plotly_js() -> str:
    """The plotly.js bundle the page embeds."""
    return (_ASSETS / "plotly-basic.min.js").read_text(encoding="utf-8")


def write_html(payload: dict[str, Any], path: str | Path) -> Path:
    """Writes the page for ``payload`` (:func:`report_payload`) to ``path``: one file, opened offline."""
    data = json.dumps(_json_safe(payload), separators=(",", ":"), allow_nan=False)
    data = data.replace("<", "\\u003c")  # no "</script>" can end the data's tag early
    page = (_ASSETS / "report.html").read_text().format(
        title=html.escape(f"aebnas report: {payload['report']['run_dir']}"), style=(_ASSETS / "report.css").read_text(),
        plotly=plotly_js(), data=data, script=(_ASSETS / "report.js").read_text())
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)  # whole or not at all: a browser or the report server may be reading it
    return path
