"""Confirmation study: which trials to confirm and where to tune their thresholds, measured on test.

Takes finished searches of ``search_efficiency.py run --confirm-top 0`` (every strategy's trials, none
confirmed) and confirms each run's top ``k`` three ways, with confirmation's own fine-tuning (joint, from the search
weights, the search's confirmation epochs and learning rate) and measurement:

- ``val-at-target``: the ``k`` most accurate at the target on validation, thresholds tuned on validation
  (aebnas before this study);
- ``val-greedy``: the most accurate at the target, then greedily the curve adding the most validation
  hypervolume (``confirmation_order``), thresholds on validation (the default now);
- ``holdout``: the top ``2k`` of ``val-greedy`` re-ranked the same way on a holdout split the search never
  saw (``holdout_size``: official train images left over by ``max_train``), thresholds tuned on it.

Per run and variant it records the test hypervolume of the confirmed networks' test curves (reference: the
target and chance accuracy), and the deployed pick (the first confirmed) with its test accuracy and test
average MACs against the target. Paired by run, so strategies and variants compare seed by seed:

    .venv/bin/python benchmarks/confirm_study.py run --root benchmarks/runs/confirm-study --holdout-size 5000
    .venv/bin/python benchmarks/confirm_study.py report --root benchmarks/runs/confirm-study

Each network is fine-tuned once and measured on each split a variant asks for. ``run`` is resumable: a
run's results are stored in ``ROOT/confirm-study.json`` when its networks are measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _environment import print_environment  # noqa: E402  (benchmarks/, the script's folder)
from _paired import paired  # noqa: E402

from aebnas import Search, TrialState  # noqa: E402
from aebnas.datasets import load_dataset  # noqa: E402
from aebnas.engine.evaluation import train_joint  # noqa: E402
from aebnas.engine.search.confirm import measure_confirmed, search_network, top_trials  # noqa: E402
from aebnas.engine.search.front import FrontPoint, hypervolume, pareto_front  # noqa: E402

VARIANTS = ("val-at-target", "val-greedy", "holdout")


def runs(root: Path) -> list[Path]:
    """Finished run directories under ``root`` (``DATASET/seedS/STRATEGY``), shared backbones left out."""
    return sorted(p.parent for p in root.glob("*/seed*/*/store.sqlite") if not p.parent.name.startswith("_"))


def chosen(search: Search, variant: str, k: int, data) -> list:
    """The trials ``variant`` confirms, in its order (the first is the deployed pick)."""
    c, complete = search.config, search.trials(TrialState.COMPLETE)
    if variant == "val-at-target":
        ranked = sorted((t for t in complete if t.metrics.accuracy_at_target is not None),
                        key=lambda t: (-t.metrics.accuracy_at_target, t.number))
        return ranked[:k]
    if variant == "val-greedy":
        return top_trials(complete, k, c.target_macs, search.ref_macs, search.ref_accuracy)
    return search.rerank_on_holdout(top_trials(complete, 2 * k, c.target_macs, search.ref_macs,
                                                search.ref_accuracy), k)


def fine_tuned(search: Search, trial, data) -> tuple:
    """``trial``'s network fine-tuned as confirmation does (joint, from its search weights), and the seconds."""
    c = search.config
    model = search_network(trial, data.info, search.search_weights(trial), search.backbone if c.mode == "fast" else None)
    history = train_joint(model, data.train, data.info, c.train_config(c.confirm_epochs, c.confirm_lr), desc="confirm")
    return model, history.seconds


def measured(search: Search, trial, model, seconds: float, data, folder: Path) -> dict:
    """The fine-tuned ``model`` measured as confirmation does, thresholds tuned on ``data``'s holdout if it
    has one, else on validation."""
    c = search.config
    result = measure_confirmed(trial, model, search.space.costs(trial.arch), data, c.rule, c.strategy.curve_method,
                               c.target_macs, c.train_config(c.confirm_epochs, c.confirm_lr), seconds, folder,
                               search.run_dir)
    return {"arch_id": trial.arch_id, "test_curve": [list(p) for p in result.test_curve],
            "test_accuracy": result.test.accuracy, "test_avg_macs": result.test.avg_macs,
            "tuned_accuracy": result.val.accuracy, "macs_budget": result.macs_budget, "verified": result.verified,
            "train_seconds": seconds}


def cmd_run(args) -> int:
    root = Path(args.root)
    out = root / "confirm-study.json"
    done = json.loads(out.read_text()) if out.is_file() else {}
    print_environment(args)
    for run_dir in runs(root):
        probe = Search.open(run_dir)
        c, finished = probe.config, len(probe.trials(TrialState.COMPLETE, TrialState.FAILED)) >= args.budget
        probe.close()
        key = str(run_dir.relative_to(root))
        if not finished or set(done.get(key, {}).get("variants", {})) == set(VARIANTS):
            continue
        data = load_dataset(c.dataset, None, False, c.val_size, c.seed, c.max_train, args.holdout_size)
        splits = {"holdout": data, "validation": dataclasses.replace(data, holdout=None)}
        search = Search.open(run_dir, data=data)
        record = {"target_macs": c.target_macs, "ref_accuracy": search.ref_accuracy, "networks": {},
                  "variants": {v: [(t, "holdout" if v == "holdout" else "validation")
                                   for t in chosen(search, v, args.k, data)] for v in VARIANTS}}
        for trial in {t.number: t for picks in record["variants"].values() for t, _ in picks}.values():
            model, seconds = fine_tuned(search, trial, data)  # once per network, measured on each split asked
            for split in sorted({s for picks in record["variants"].values() for t, s in picks
                                  if t.number == trial.number}):
                record["networks"][f"{trial.arch_id}@{split}"] = measured(
                    search, trial, model, seconds, splits[split], run_dir / "confirm-study" / f"{trial.arch_id}-{split}")
        record["variants"] = {v: [f"{t.arch_id}@{s}" for t, s in picks] for v, picks in record["variants"].items()}
        done[key] = record
        out.write_text(json.dumps(done, indent=1))
        print(f"{key}: {len(record['networks'])} networks measured for {len(VARIANTS)} variants", flush=True)
        search.store.close()
    return 0


def summary(record: dict, variant: str) -> dict:
    """Test HV of ``variant``'s confirmed networks; its deployed pick's test accuracy and average MACs."""
    networks = [record["networks"][n] for n in record["variants"][variant]]
    points = [FrontPoint(0, n["arch_id"], m, a, ()) for n in networks for m, a in n["test_curve"]]
    target = record["target_macs"]
    pick = networks[0]
    return {"test_hv": hypervolume(pareto_front(points), target, record["ref_accuracy"]),
            "pick_test_accuracy": pick["test_accuracy"], "pick_over_target": pick["test_avg_macs"] > target}


def _median_iqr(values: list[float], scale: float = 100.0) -> str:
    q1, q2, q3 = (scale * np.percentile(values, q) for q in (25, 50, 75))
    return f"{q2:.2f} [{q1:.2f}, {q3:.2f}]"


def cmd_report(args) -> int:
    root = Path(args.root)
    done = json.loads((root / "confirm-study.json").read_text())
    by_strategy: dict[str, dict[str, dict]] = {}
    for key, record in done.items():
        if set(record["variants"]) != set(VARIANTS):
            continue
        dataset, seed, strategy = key.split("/")
        by_strategy.setdefault(strategy, {})[f"{dataset}/{seed}"] = {v: summary(record, v) for v in VARIANTS}
    seeds = sorted(set.intersection(*(set(s) for s in by_strategy.values())))
    print(f"{len(seeds)} paired runs per strategy ({', '.join(seeds)}); test HV and the deployed pick's test "
          "accuracy (%), median [IQR]; picks over the target on test\n")
    print("| strategy | confirmation | test HV | pick's test accuracy | picks over the target |")
    print("|---|---|---|---|---|")
    for strategy, per_seed in sorted(by_strategy.items()):
        for v in VARIANTS:
            rows = [per_seed[s][v] for s in seeds]
            print(f"| {strategy} | {v} | {_median_iqr([r['test_hv'] for r in rows])} | "
                  f"{_median_iqr([r['pick_test_accuracy'] for r in rows])} | "
                  f"{sum(r['pick_over_target'] for r in rows)} / {len(rows)} |")
    print("\npaired one-sided Wilcoxon p, wins/ties/losses:\n")
    print("| comparison | test HV | pick's test accuracy |")
    print("|---|---|---|")
    pairs = [(f"{s}: {v} > val-at-target", s, v, s, "val-at-target") for s in by_strategy for v in VARIANTS[1:]]
    if {"bo", "random"} <= set(by_strategy):
        pairs += [(f"bo > random, both {v}", "bo", v, "random", v) for v in VARIANTS]
    for label, s1, v1, s2, v2 in pairs:
        cells = [paired([by_strategy[s1][s][v1][m] for s in seeds], [by_strategy[s2][s][v2][m] for s in seeds])
                 for m in ("test_hv", "pick_test_accuracy")]
        print(f"| {label} | {' | '.join(cells)} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--root", default="benchmarks/runs/confirm-study")
    parser.add_argument("--k", type=int, default=3, help="networks confirmed per run")
    parser.add_argument("--budget", type=int, default=32, help="trained candidates of a finished search")
    parser.add_argument("--holdout-size", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    return cmd_run(args) if args.command == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
