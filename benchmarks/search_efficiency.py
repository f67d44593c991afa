"""Search efficiency: the validation hypervolume of the front against the number of trained candidates for
every proposal strategy (``bo`` = ours, and the baselines ``random``, ``nsga2``, ``paper``), the space
baselines (the ``edanas`` space searched by ``bo``; the backbone alone), over seeds; confirmed test
accuracy at the target average MACs, the confirmed front's test hypervolume, and wall time per strategy
(proposal/surrogate cost included).

Every run goes through the same `Search` path (fast mode, one frozen backbone per dataset and seed, shared
by all the runs of that seed). The target is a fraction of the backbone's own MACs (per dataset, see
DATASETS); the hypervolume is over avg MACs <= target with the reference (chance accuracy, target).

Heavy: run it under the shared lock. ``run`` stops starting work after --max-minutes and exits with
status 3; rerunning the same command continues (searches resume from their stores):

    while true; do flock /tmp/aebnas-bench.lock .venv/bin/python benchmarks/search_efficiency.py run \\
        --dataset digits; [ $? -eq 3 ] || break; done
    .venv/bin/python benchmarks/search_efficiency.py report --dataset digits \\
        --plot docs/img/search_efficiency_digits.png

Fashion-MNIST on 2 CPU cores (about 45 minutes): ``--dataset fashion_mnist --budget 32 --checkpoints 8 16
32`` in both commands; with a GPU, ``--device cuda`` and the default budget of 64.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)
from _paired import paired  # noqa: E402

from aebnas import Search, TrialState
from aebnas.datasets import load_dataset
from aebnas.engine.evaluation.outputs import CandidateOutputs
from aebnas.engine.evaluation.thresholds import tradeoff_curve
from aebnas.engine.evaluation.training import predict_logits, train_joint
from aebnas.engine.search.front import FrontPoint, hypervolume, pareto_front
from aebnas.engine.search.strategies import STRATEGIES
from aebnas.search_space import Architecture, ExitSpec, SearchSpace
from aebnas.search_space.macs import count_macs, path_costs
from aebnas.search_space.model import build_backbone

ROOT = Path(__file__).resolve().parents[1]
EXIT_MORE = 3  # `run` stopped at its time limit: rerun to continue

# Fast-mode settings per dataset (shared by every strategy). Fashion-MNIST is reduced to fit 2 CPU cores.
# The target (a fraction of the backbone's MACs) sits where the backbone's stage costs leave a choice: the
# digits CNN's stages end at 3/27/76% of its cost, so at 50% two of three exit positions fit; stage 1 of
# the Fashion-MNIST ResNet alone is 40% (stages end at 40/70%), so its target is 80%.
DATASETS: dict[str, dict[str, Any]] = {
    "digits": dict(epochs=15, backbone_epochs=15, confirm_epochs=10, target_fraction=0.5),
    "fashion_mnist": dict(max_train=10000, epochs=2, backbone_epochs=8, train_batch_size=128,
                          backbone="resnet", backbone_options={"depth": 1}, confirm_epochs=2,
                          target_fraction=0.8),
}
COMMON = dict(mode="fast", batch_size=4, n_init=8, space="extended")


@dataclass(frozen=True)
class Job:
    """One search of the benchmark: a strategy (or a space baseline) on one dataset and seed."""

    label: str
    dataset: str
    seed: int
    settings: dict[str, Any]

    def run_dir(self, root: Path) -> Path:
        return root / self.dataset / f"seed{self.seed}" / self.label


class TimeUp(Exception):
    """The invocation's time is spent; every finished trial is stored."""


def settings_for(args, dataset: str, seed: int) -> dict[str, Any]:
    settings = {**COMMON, **DATASETS[dataset], "dataset": dataset, "seed": seed, "device": args.device}
    fraction = settings.pop("target_fraction") if args.target_fraction is None else args.target_fraction
    settings.pop("target_fraction", None)
    if args.max_train is not None:
        settings["max_train"] = args.max_train
    settings["target_macs"] = round(fraction * backbone_macs(settings))
    return settings


def backbone_macs(settings: dict[str, Any]) -> int:
    from aebnas.datasets import DATASETS as REGISTRY

    info = REGISTRY.get(settings["dataset"]).info
    space = SearchSpace.for_dataset(info, "extended", backbone=settings.get("backbone"),
                                    backbone_options=settings.get("backbone_options"))
    return count_macs(build_backbone(space.backbone, space.backbone_options, info), info.input_shape)


def space_size(settings: dict[str, Any], preset: str) -> int:
    """Architectures of a fixed-branch preset (positions only) whose cheapest exit fits the target."""
    from aebnas.datasets import DATASETS as REGISTRY

    info = REGISTRY.get(settings["dataset"]).info
    space = SearchSpace.for_dataset(info, preset, backbone=settings.get("backbone"),
                                    backbone_options=settings.get("backbone_options"))
    count = 0
    for k in range(1, space.max_exits + 1):
        for positions in itertools.combinations(space.positions, k):
            arch = Architecture(space.backbone, tuple(ExitSpec(p, space.preset.fixed_branch) for p in positions),
                                space.backbone_options)
            if space.is_valid(arch) and min(path_costs(arch, info.input_shape, info.num_classes).paths) <= settings["target_macs"]:
                count += 1
    return count


def jobs_for(args, dataset: str) -> list[Job]:
    jobs = []
    for seed in args.seeds:
        settings = settings_for(args, dataset, seed)
        for strategy in args.strategies:
            jobs.append(Job(strategy, dataset, seed, {**settings, "strategy": strategy, "budget": args.budget}))
        if "edanas" in args.space_baselines:  # a tiny space: searched to exhaustion
            budget = min(args.budget, space_size(settings, "edanas"))
            jobs.append(Job("bo-edanas", dataset, seed, {**settings, "strategy": "bo", "space": "edanas",
                                                          "budget": budget}))
    return jobs


# ---------------------------------------------------------------------------------------------------------
# run


def _timing(run_dir: Path) -> dict[str, float]:
    path = run_dir / "benchmark-timing.json"
    base = {"setup_seconds": 0.0, "search_seconds": 0.0, "ask_seconds": 0.0, "confirm_seconds": 0.0, "pieces": 0}
    return base | (json.loads(path.read_text()) if path.is_file() else {})


def _save_timing(run_dir: Path, timing: dict[str, float]) -> None:
    (run_dir / "benchmark-timing.json").write_text(json.dumps(timing, indent=2))


def shared_backbone(root: Path, dataset: str, seed: int, data, settings: dict[str, Any]) -> Path:
    """Trains (once) the frozen backbone of a dataset and seed; returns the folder holding it."""
    folder = root / dataset / f"seed{seed}" / "_backbone"
    search = Search(folder, data=data, **{**settings, "strategy": "random", "budget": 1, "batch_size": 1})
    search.backbone  # trained here, or loaded
    search.store.close()
    return folder / "backbones"


def job_done(job: Job, root: Path, confirm_top: int) -> bool:
    """Whether ``job``'s search has spent its budget and confirmed its top candidates."""
    run_dir = job.run_dir(root)
    if not (run_dir / "store.sqlite").is_file():
        return False
    search = Search(run_dir, **{**job.settings, "confirm_top": 0})
    done = (len(search.trials(TrialState.COMPLETE, TrialState.FAILED)) >= job.settings["budget"]
            and len(search.store.confirmed()) >= confirm_top)
    search.store.close()
    return done


def run_job(job: Job, root: Path, data, backbones: Path, confirm_top: int, deadline: float) -> bool:
    """Runs (or resumes) one search and confirms its top candidates; False if time ran out first."""
    run_dir = job.run_dir(root)
    run_dir.mkdir(parents=True, exist_ok=True)
    for file in backbones.glob("backbone-*.pt"):  # the seed's shared backbone: never trained twice
        target = run_dir / "backbones" / file.name
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            shutil.copy2(file, target)
    timing = _timing(run_dir)
    search = Search(run_dir, data=data, **{**job.settings, "confirm_top": 0})
    done = len(search.trials(TrialState.COMPLETE, TrialState.FAILED)) >= job.settings["budget"]
    if done and len(search.store.confirmed()) >= confirm_top:
        search.store.close()
        return True
    timing["pieces"] += 1
    start = time.perf_counter()
    search.backbone  # cached stage features of this process
    timing["setup_seconds"] += time.perf_counter() - start

    ask = search.ask

    def timed_ask(n: int = 1):
        t = time.perf_counter()
        try:
            return ask(n)
        finally:
            timing["ask_seconds"] += time.perf_counter() - t

    def stop_when_time_is_up(trial) -> None:
        if time.monotonic() > deadline:
            raise TimeUp

    search.ask = timed_ask
    start = time.perf_counter()
    try:
        search.run(callback=stop_when_time_is_up)
    except TimeUp:
        return False
    finally:
        timing["search_seconds"] += time.perf_counter() - start
        _save_timing(run_dir, timing)
    for k in range(1, confirm_top + 1):
        if time.monotonic() > deadline:
            search.store.close()
            return False
        start = time.perf_counter()
        search.confirm(k)  # the top k; those already confirmed are skipped
        timing["confirm_seconds"] += time.perf_counter() - start
        _save_timing(run_dir, timing)
    search.store.close()
    return True


def backbone_only(root: Path, dataset: str, seed: int, data, settings: dict[str, Any], backbones: Path) -> dict:
    """The backbone alone (no early exit): its val/test accuracy and MACs as trained for the search, and
    after the confirmation's extra joint fine-tuning (same epochs and learning rate)."""
    path = root / dataset / f"seed{seed}" / "backbone-only.json"
    if path.is_file():
        return json.loads(path.read_text())
    search = Search(backbones.parent, data=data, **{**settings, "strategy": "random", "budget": 1, "batch_size": 1})
    frozen = search.backbone
    c = search.config
    result = {"macs": backbone_macs(settings)}
    for split in ("val", "test"):
        labels = getattr(data, split).y
        result[f"{split}_accuracy"] = (frozen.final_logits[split].argmax(-1) == labels).double().mean().item()
    model = copy.deepcopy(frozen.model).requires_grad_(True)
    train_joint(model, data.train, data.info, c.train_config(c.confirm_epochs, c.confirm_lr), desc="backbone")
    for split in ("val", "test"):
        x, labels = getattr(data, split).x, getattr(data, split).y
        logits = predict_logits(model, x, c.device)[:, -1]
        result[f"finetuned_{split}_accuracy"] = (logits.argmax(-1) == labels).double().mean().item()
    search.store.close()
    path.write_text(json.dumps(result, indent=2))
    return result


def cmd_run(args) -> int:
    root = Path(args.root)
    deadline = time.monotonic() + 60 * args.max_minutes
    print_environment(args)
    for dataset in args.dataset:
        jobs = jobs_for(args, dataset)
        for seed in args.seeds:
            todo = [j for j in jobs if j.seed == seed and not job_done(j, root, args.confirm_top)]
            if not todo and ("backbone" not in args.space_baselines
                             or (root / dataset / f"seed{seed}" / "backbone-only.json").is_file()):
                continue
            if time.monotonic() > deadline:
                print("time limit reached; rerun the same command to continue", flush=True)
                return EXIT_MORE
            settings = settings_for(args, dataset, seed)
            data = load_dataset(dataset, None, False, settings.get("val_size"), seed, settings.get("max_train"))
            backbones = shared_backbone(root, dataset, seed, data, settings)
            if "backbone" in args.space_baselines:
                backbone_only(root, dataset, seed, data, settings, backbones)
            for job in todo:
                if time.monotonic() > deadline:
                    print("time limit reached; rerun the same command to continue", flush=True)
                    return EXIT_MORE
                started = time.perf_counter()
                finished = run_job(job, root, data, backbones, args.confirm_top, deadline)
                print(f"{dataset} seed {seed} {job.label}: {'done' if finished else 'paused'} "
                      f"({time.perf_counter() - started:.0f} s this call)", flush=True)
                if not finished:
                    print("time limit reached; rerun the same command to continue", flush=True)
                    return EXIT_MORE
    print("all runs complete", flush=True)
    return 0


# ---------------------------------------------------------------------------------------------------------
# report


def _hv(points: list[FrontPoint], search: Search) -> float:
    return hypervolume(pareto_front(points), search.ref_macs, search.ref_accuracy)


def fine_curve_points(search: Search, trials) -> list[FrontPoint]:
    """Curve points of ``trials`` with fine-grained thresholds, from their saved validation outputs (used to
    tell the paper's search apart from its threshold grid)."""
    points = []
    for trial in trials:
        outputs = CandidateOutputs.load(search.run_dir / trial.outputs_path)
        curve = tradeoff_curve(outputs.val, trial.path_macs, search.config.rule)
        for acc, macs in zip(curve.accuracy.tolist(), curve.avg_macs.tolist()):
            if macs <= search.config.target_macs:
                points.append(FrontPoint(trial.number, trial.arch_id, macs, acc, ()))
    return points


def summarise_run(run_dir: Path, checkpoints: list[int], budget: int) -> dict[str, Any]:
    search = Search.open(run_dir)
    complete = sorted(search.trials(TrialState.COMPLETE), key=lambda t: t.number)
    target = search.config.target_macs
    trace = [search.hypervolume(complete[:i + 1]) for i in range(len(complete))]
    out: dict[str, Any] = {"trials": len(complete), "budget": budget, "trace": trace, "target_macs": target,
                           "hv": {b: trace[min(b, len(trace)) - 1] for b in checkpoints if trace}}
    if search.config.strategy.curve_method == "grid":
        per_trial = [fine_curve_points(search, [trial]) for trial in complete]
        fine = [_hv(list(itertools.chain.from_iterable(per_trial[:b])), search) for b in range(1, len(complete) + 1)]
        out["fine_trace"] = fine
        out["fine_hv"] = {b: fine[min(b, len(fine)) - 1] for b in checkpoints if fine}
    confirmed = search.store.confirmed()
    if confirmed:
        test_points = [FrontPoint(0, arch, m, a, ()) for arch, r in confirmed.items() for m, a in r.test_curve]
        out["test_hv"] = _hv(test_points, search)
        best = max(confirmed.values(), key=lambda r: (r.val.accuracy, -r.val.avg_macs))
        out["confirmed"] = {"val_accuracy": best.val.accuracy, "test_accuracy": best.test.accuracy,
                            "test_avg_macs": best.test.avg_macs, "verified": best.verified, "n": len(confirmed)}
    timing = _timing(run_dir)
    out["timing"] = timing | {"train_seconds": sum(t.train_seconds or 0 for t in complete)}
    search.store.close()
    return out


def _mean_std(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    mean = scale * float(np.mean(values))
    std = scale * float(np.std(values))
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def first_reaching(trace: list[float], level: float) -> int | None:
    """Trained candidates after which ``trace`` first reaches ``level`` (None if it never does)."""
    for i, value in enumerate(trace):
        if value >= level - 1e-12:
            return i + 1
    return None


def report_dataset(args, dataset: str) -> dict[str, Any]:
    root = Path(args.root) / dataset
    runs: dict[str, dict[int, dict]] = {}
    for job in sorted(jobs_for(args, dataset), key=lambda j: (j.label not in args.strategies, j.seed)):
        run_dir = job.run_dir(Path(args.root))
        if (run_dir / "store.sqlite").is_file():
            runs.setdefault(job.label, {})[job.seed] = summarise_run(run_dir, args.checkpoints, job.settings["budget"])
    backbone = {seed: json.loads((root / f"seed{seed}" / "backbone-only.json").read_text())
                for seed in args.seeds if (root / f"seed{seed}" / "backbone-only.json").is_file()}
    return {"dataset": dataset, "runs": runs, "backbone_only": backbone}


def print_tables(summary: dict[str, Any], args) -> None:
    runs, dataset = summary["runs"], summary["dataset"]
    if not runs:
        print(f"\n{dataset}: no runs")
        return
    any_run = next(iter(next(iter(runs.values())).values()))
    target = any_run["target_macs"]
    print(f"\n### {dataset}: validation hypervolume (x100, mean ± std over seeds {args.seeds}), target {target:,.0f} MACs\n")
    header = ["strategy", "seeds"] + [f"HV@{b}" for b in args.checkpoints] + [
        "test HV (confirmed)", "confirmed test acc % @target", "its test avg MACs"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, by_seed in runs.items():
        rows = [(label, {s: r["hv"] for s, r in by_seed.items()})]
        if any("fine_hv" in r for r in by_seed.values()):
            rows.append((f"{label} (same trials, fine thresholds)", {s: r.get("fine_hv", {}) for s, r in by_seed.items()}))
        for name, hv in rows:
            cells = [name, str(len(by_seed))]
            for b in args.checkpoints:
                values = [h.get(b) for s, h in hv.items() if by_seed[s]["trials"] >= b]
                # a space smaller than b, searched to exhaustion: its final value, marked
                whole = [h.get(b) for s, h in hv.items() if by_seed[s]["trials"] == by_seed[s]["budget"] < b]
                if values:
                    cells.append(_mean_std(values))
                elif whole:
                    cells.append(f"{_mean_std(whole)} (whole space, {by_seed[next(iter(by_seed))]['trials']})")
                else:
                    cells.append("-")
            if name == label:
                cells.append(_mean_std([r.get("test_hv") for r in by_seed.values()]))
                cells.append(_mean_std([r.get("confirmed", {}).get("test_accuracy") for r in by_seed.values()]))
                macs = [r["confirmed"]["test_avg_macs"] for r in by_seed.values() if "confirmed" in r]
                cells.append(f"{np.mean(macs):,.0f}" if macs else "-")
            else:
                cells += ["", "", ""]
            print("| " + " | ".join(cells) + " |")
    backbone = summary["backbone_only"]
    if backbone:
        macs = np.mean([b["macs"] for b in backbone.values()])
        print(f"| backbone only (no early exit; {macs:,.0f} MACs = {macs / target:.1f}x the target) | {len(backbone)} | "
              + " | ".join("" for _ in args.checkpoints) + " | "
              + f"0 (beyond the target) | {_mean_std([b['test_accuracy'] for b in backbone.values()])} as trained, "
              f"{_mean_std([b['finetuned_test_accuracy'] for b in backbone.values()])} fine-tuned | {macs:,.0f} |")

    print(f"\n### {dataset}: wall time per run (seconds, mean over seeds)\n")
    print("| strategy | total | proposals (surrogate fit + acquisition) | training candidates | confirmation | setup |")
    print("|---|---|---|---|---|---|")
    for label, by_seed in runs.items():
        t = [r["timing"] for r in by_seed.values()]
        total = [x["search_seconds"] + x["confirm_seconds"] + x["setup_seconds"] for x in t]
        print(f"| {label} | {np.mean(total):.0f} | {np.mean([x['ask_seconds'] for x in t]):.0f} | "
              f"{np.mean([x['train_seconds'] for x in t]):.0f} | {np.mean([x['confirm_seconds'] for x in t]):.0f} | "
              f"{np.mean([x['setup_seconds'] for x in t]):.0f} |")

    print(f"\n### {dataset}: aims\n")
    if "bo" in runs and "random" in runs:
        final = max(args.checkpoints)
        rows = []
        for seed in sorted(set(runs["bo"]) & set(runs["random"])):
            level = runs["random"][seed]["hv"].get(final)
            reach = first_reaching(runs["bo"][seed]["trace"], level) if level is not None else None
            rows.append(f"seed {seed}: random HV@{final} {100 * level:.2f}; bo reaches it after "
                        f"{reach if reach is not None else 'never (within ' + str(len(runs['bo'][seed]['trace'])) + ')'}")
        mean_level = np.mean([runs["random"][s]["hv"][final] for s in runs["random"]])
        mean_trace = np.mean([runs["bo"][s]["trace"] for s in runs["bo"]], axis=0).tolist()
        reach = first_reaching(mean_trace, mean_level)
        print(f"- bo vs random's final HV (aim: <= {final // 2} trained): " + "; ".join(rows)
              + f"; mean curves: {reach if reach is not None else 'never'}")
    if "bo" in runs:
        hv = {b: lambda r, b=b: r["hv"].get(b) for b in args.checkpoints}
        metrics = [(hv[b], hv[b]) for b in args.checkpoints] + [
            (lambda r: r.get("test_hv"),) * 2, (lambda r: r.get("confirmed", {}).get("test_accuracy"),) * 2]
        # a grid-threshold baseline's own trials re-scored with fine thresholds: its search without its grid
        fine = [(hv[b], lambda r, b=b: r.get("fine_hv", {}).get(b)) for b in args.checkpoints]
        print("\npaired one-sided Wilcoxon p, bo > baseline, with bo's wins/ties/losses over the seeds both ran:\n")
        header = [f"HV@{b}" for b in args.checkpoints] + ["confirmed test HV", "confirmed test acc @target"]
        print("| baseline | " + " | ".join(header) + " |")
        print("|---" * (len(header) + 1) + "|")
        rows = [(label, label, metrics) for label in runs if label != "bo"]
        rows += [(f"{label} (same trials, fine thresholds)", label, fine) for label in runs
                 if label != "bo" and any("fine_hv" in r for r in runs[label].values())]
        for name, baseline, row in rows:
            seeds = sorted(set(runs["bo"]) & set(runs[baseline]))
            cells = []
            for bo_value, value in row:
                pairs = [(bo_value(runs["bo"][s]), value(runs[baseline][s])) for s in seeds]
                pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
                cells.append(paired(*map(list, zip(*pairs))) if pairs else "-")
            print(f"| {name} | " + " | ".join(cells + [""] * (len(header) - len(cells))) + " |")


def plot(summaries: list[dict[str, Any]], path: Path, args) -> None:
    """Per dataset, HV vs trained candidates: the whole run (left) and from the 8th candidate on, zoomed
    to the strategies' spread there (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(summaries), 2, figsize=(12.4, 4.4 * len(summaries)), squeeze=False)
    colors = {"bo": "C0", "random": "C1", "nsga2": "C2", "paper": "C3", "bo-edanas": "C4"}
    zoom_from = 8
    for row, summary in zip(axes, summaries):
        late = []  # mean values from the zoom's first candidate on, for its y range
        for label, by_seed in summary["runs"].items():
            for key, style, suffix in (("trace", "-", ""), ("fine_trace", ":", " (fine thresholds)")):
                traces = [r[key] for r in by_seed.values() if key in r]
                if not traces:
                    continue
                n = min(len(t) for t in traces)
                values = 100 * np.array([t[:n] for t in traces])
                x = np.arange(1, n + 1)
                color = colors.get(label, None)
                late += values.mean(0)[zoom_from - 1:].tolist()
                for ax in row:
                    ax.plot(x, values.mean(0), style, color=color, label=f"{label}{suffix} ({len(traces)} seeds)",
                            marker="o" if n < 10 else None, markersize=3)
                    if key == "trace":
                        ax.fill_between(x, values.min(0), values.max(0), color=color, alpha=0.15, linewidth=0)
        for ax in row:
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(set(args.checkpoints + [zoom_from])))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_xlabel("trained candidates")
            ax.set_ylabel("validation hypervolume x100 (avg MACs <= target)")
            ax.grid(alpha=0.3)
        row[0].set_title(f"{summary['dataset']}: mean, band = min-max over seeds")
        row[0].legend(fontsize=8, loc="lower right")
        if late:
            margin = 0.1 * (max(late) - min(late)) + 0.05
            row[1].set_xlim(zoom_from, max(args.checkpoints))
            row[1].set_ylim(min(late) - margin, max(late) + margin)
        row[1].set_title(f"{summary['dataset']}: from candidate {zoom_from} on (zoomed)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def cmd_report(args) -> int:
    summaries = [report_dataset(args, dataset) for dataset in args.dataset]
    for summary in summaries:
        print_tables(summary, args)
    outs = [Path(args.root) / "summary.json"] + ([Path(args.json)] if args.json else [])
    for out in outs:
        out.write_text(json.dumps(summaries, indent=1))
    if args.plot:
        plot(summaries, Path(args.plot), args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--dataset", nargs="+", default=["digits"], choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES.names(), choices=STRATEGIES.names())
    parser.add_argument("--space-baselines", nargs="*", default=["edanas", "backbone"], choices=["edanas", "backbone"])
    parser.add_argument("--budget", type=int, default=64, help="trained candidates per search")
    parser.add_argument("--checkpoints", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--target-fraction", type=float, default=None,
                        help="target avg MACs / backbone MACs (default: the dataset preset's)")
    parser.add_argument("--confirm-top", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=None, help="override the dataset preset's max_train")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (all runs of a root should use one)")
    parser.add_argument("--max-minutes", type=float, default=8.0, help="run: start no work after this long")
    parser.add_argument("--root", default=str(ROOT / "runs" / "bench-search-efficiency"))
    parser.add_argument("--plot", default=None, help="report: write the HV-vs-candidates plot here")
    parser.add_argument("--json", default=None, help="report: also write the per-run summaries here (kept in git: "
                        "docs/results/, since runs/ is not)")
    args = parser.parse_args(argv)
    return cmd_run(args) if args.command == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
