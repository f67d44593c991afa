"""Run reports: the front table, hypervolume, confirmed candidates, PNG plots, JSON and CSV exports, and the
interactive report.html."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from aebnas.engine.search.front import curve_points, hypervolume, pareto_front
from aebnas.engine.search.plots import plot_points
from aebnas.engine.search.records import TrialState
from aebnas.engine.search.report_html import report_payload, write_html


def finish_order(search) -> list:
    """The complete trials of ``search`` (a Search) in the order they finished."""
    return sorted(search.trials(TrialState.COMPLETE), key=lambda t: (t.finished or 0, t.number))


def hypervolume_trace(search) -> list[float]:
    """Validation hypervolume after each complete trial of ``search`` (a Search), in the order they finished:
    each step's front is the previous front with the new trial's points (the front of the union)."""
    front, trace = [], []
    for t in finish_order(search):
        front = pareto_front(front + curve_points([(t.number, t.arch_id, t.curve)], search.config.target_macs))
        trace.append(hypervolume(front, search.ref_macs, search.ref_accuracy))
    return trace


def build_report(search) -> dict[str, Any]:
    """Everything the report of ``search`` (a Search) shows, as JSON-able data."""
    trials = search.trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    front = search.front()
    return {
        "run_dir": str(search.run_dir),
        "config": search.config.identity() | {"budget": search.config.budget},
        "trials": {state.value: sum(t.state == state for t in trials) for state in TrialState},
        "hypervolume": search.hypervolume(),
        "cost_unit": search.space.cost.unit,
        "reference": {"avg_macs": search.ref_macs, "accuracy": search.ref_accuracy},
        "hypervolume_trace": hypervolume_trace(search),
        "front": [p.to_dict() for p in front],
        "confirmed": {arch_id: c.to_dict() for arch_id, c in search.store.confirmed().items()},
        "train_seconds": sum(t.train_seconds or 0 for t in complete),
        "versions": search.store.versions,
    }


def write_report(search, out_dir: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """Writes report.json, front.csv, trials.csv, the PNG plots and report.html into ``out_dir`` (default RUN_DIR/report)."""
    out = Path(out_dir or search.run_dir / "report")
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(search)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    with open(out / "front.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["trial", "arch_id", "avg_macs", "accuracy", "thresholds"])
        writer.writeheader()
        for row in report["front"]:
            writer.writerow(row | {"thresholds": " ".join(map(str, row["thresholds"]))})
    with open(out / "trials.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "arch_id", "state", "source", "macs_budget", "predicted_mean", "predicted_std",
                         "accuracy_at_macs_budget", "final_path_macs", "train_seconds", "error"])
        for t in search.trials():
            writer.writerow([t.number, t.arch_id, t.state.value, t.source, t.macs_budget,
                             t.predicted.mean if t.predicted else None, t.predicted.std if t.predicted else None,
                             t.metrics.accuracy_at_macs_budget, t.path_macs[-1] if t.path_macs else None,
                             t.train_seconds, t.error])
    _plots(search, report, out)
    write_html(report_payload(search, report, finish_order(search)), out / "report.html")
    return report, out


def _plots(search, report: dict[str, Any], out: Path) -> None:
    complete = search.trials(TrialState.COMPLETE)
    points = curve_points((t.number, t.arch_id, t.curve) for t in complete)
    front = pareto_front(points)
    scale, unit = (1e6, "MMACs") if report["cost_unit"] == "MACs" else (1.0, report["cost_unit"])
    series = {
        "all trials (val)": ([p.avg_macs / scale for p in points], [100 * p.accuracy for p in points]),
        "front (val)": ([p.avg_macs / scale for p in front], [100 * p.accuracy for p in front]),
    }
    confirmed = report["confirmed"].values()
    if confirmed:
        series["confirmed (test)"] = ([c["test"]["avg_macs"] / scale for c in confirmed],
                                      [100 * c["test"]["accuracy"] for c in confirmed])
    plot_points(series, out / "front.png", f"average {unit} (log scale)", "accuracy (%)",
                f"{search.config.dataset}: front", logx=True)
    predicted = [t for t in complete if t.predicted and t.metrics.accuracy_at_macs_budget is not None]
    if predicted:
        plot_points({"bo proposals": ([100 * t.predicted.mean for t in predicted],
                                      [100 * t.metrics.accuracy_at_macs_budget for t in predicted])},
                    out / "predicted_vs_measured.png", f"predicted accuracy at the {unit} budget (%)",
                    f"measured accuracy at the {unit} budget (%)", "predictor vs measurement")
    trace = report["hypervolume_trace"]
    plot_points({"hypervolume (val)": (list(range(1, len(trace) + 1)), trace)}, out / "hypervolume.png",
                "trained candidates", "hypervolume", "hypervolume vs trained candidates", lines=True)


def _format_versions(versions: list[dict[str, Any]]) -> str:
    if not versions:
        return "versions: not recorded (the run store predates version recording)"
    latest = ", ".join(f"{k} {v}" for k, v in versions[-1]["versions"].items())
    return f"versions: {latest}" + (f" (and {len(versions) - 1} earlier set(s): see report.json)" if len(versions) > 1 else "")


def format_report(report: dict[str, Any]) -> str:
    """A plain-text summary for the terminal (costs in the run's unit: MACs, or ms with a latency cost)."""
    unit = report.get("cost_unit", "MACs")
    cost = "{:>14,.0f}".format if unit == "MACs" else "{:>14.4f}".format
    lines = [f"run {report['run_dir']}: trials {report['trials']}, hypervolume {report['hypervolume']:.4f} "
             f"(reference {cost(report['reference']['avg_macs']).strip()} {unit}, "
             f"accuracy {report['reference']['accuracy']:.3f})",
             _format_versions(report["versions"]), "", "validation front:", f"{'avg ' + unit:>14} {'acc %':>7}  trial  architecture"]
    for p in report["front"]:
        lines.append(f"{cost(p['avg_macs'])} {100 * p['accuracy']:>7.2f}  {p['trial']:>5}  {p['arch_id']}")
    if report["confirmed"]:
        split = " and ".join(sorted({c.get("tuned_on", "validation") for c in report["confirmed"].values()}))
        short = {"validation": "val", "holdout": "hold"}.get(split, "tuned")
        lines += ["", f"confirmed (joint fine-tuning, thresholds tuned on {split}):",
                  f"{'architecture':>16} {unit + ' budget':>14} {short + ' %':>7} {'test %':>7} {'test avg ' + unit:>14}  "
                  f"{'over budget':<11}  exit fractions (test)  verified"]
        for arch_id, c in report["confirmed"].items():
            fractions = " ".join(f"{f:.2f}" for f in c["test"]["exit_fractions"])
            over = f"yes {100 * (c['test']['avg_macs'] / c['macs_budget'] - 1):+.1f}%" if c["over_budget"] else "no"
            lines.append(f"{arch_id:>16} {cost(c['macs_budget'])} {100 * c['val']['accuracy']:>7.2f} "
                         f"{100 * c['test']['accuracy']:>7.2f} {cost(c['test']['avg_macs'])}  {over:<11}  "
                         f"{fractions:<21}  {c['verified']}")
        if any(c["over_budget"] for c in report["confirmed"].values()):
            lines.append(f"over budget: on test the thresholds tuned on {split} cost more on average than the "
                         f"{unit} budget; choose a lower target for a margin")
    return "\n".join(lines)
