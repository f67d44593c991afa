"""Where a table search's test hypervolume is lost: in the networks it trained, or in choosing among
them on validation. Per run of `table_search.py` (its raw runs, which record their architectures), at
the budget:

- val: the validation HV of the trained networks' front (what the search optimised);
- test: the test HV of the networks and thresholds that validation front chose (the tables' test HV);
- best on test: the test HV of the front the same trained networks make on test (each curve's
  validation-tuned thresholds measured on test, the front then chosen on test): how good the set of
  trained networks is, whatever chose among them.

A method ahead on "best on test" but behind on "test" trained better networks and lost on the choice:
its validation front picked points whose validation accuracy was luckier than the rival's.

    .venv/bin/python benchmarks/selection_gap.py --table benchmarks/tables/digits.json.gz \\
        --strategies bo bo-mix paper-fine-search
"""

from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from table_search import VARIANTS, curve_method, load_runs, table_name, target_macs  # noqa: E402  (benchmarks/)

from aebnas.engine.search.front import curve_points, hypervolume, pareto_front  # noqa: E402
from aebnas.engine.search.table_stats import on_test, reference  # noqa: E402
from aebnas.engine.tables import load_table  # noqa: E402

MEASURES = ("val", "test", "best on test")


def best_on_test(table, arch_ids: list[str], seed: int, method: str, ref_macs: float, ref_accuracy: float) -> float:
    """Test HV of the front that the networks ``arch_ids`` (their validation-tuned thresholds) make on test."""
    curves = [(n, a, table.entry(a).result(seed).curves[method].val) for n, a in enumerate(arch_ids)]
    return hypervolume(pareto_front(on_test(table, curve_points(curves), seed, method)), ref_macs, ref_accuracy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True)
    parser.add_argument("--out", default="benchmarks/results/table_search", help="table_search.py's run folder")
    parser.add_argument("--strategies", nargs="+", required=True, choices=list(VARIANTS))
    parser.add_argument("--budget", type=int, default=64)
    args = parser.parse_args()
    table = load_table(args.table)
    ref_macs, ref_accuracy = target_macs(table), reference(table)[1]
    runs = load_runs(Path(args.out) / table_name(args.table), args.strategies)
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    k = args.budget - 1
    values: dict[str, dict[str, list[float]]] = {}
    for label in args.strategies:
        method = curve_method(label)
        rs = [runs[label][s] for s in seeds]
        values[label] = {"val": [r["hv"][k] for r in rs], "test": [r["test_hv"][k] for r in rs],
                         "best on test": [best_on_test(table, r["arch_ids"][:args.budget], r["seed"], method,
                                                       ref_macs, ref_accuracy) for r in rs]}
    print(f"{table_name(args.table)}: {len(seeds)} paired seeds, budget {args.budget}\n")
    print("| strategy | " + " | ".join(f"{m} HV median" for m in MEASURES) + " |")
    print("|---|" + "---|" * len(MEASURES))
    for label, v in values.items():
        print(f"| {label} | " + " | ".join(f"{np.median(v[m]):.4f}" for m in MEASURES) + " |")
    print("\npaired two-sided Wilcoxon signed-rank p (first ahead on how many seeds)\n")
    print("| pair | " + " | ".join(MEASURES) + " |")
    print("|---|" + "---|" * len(MEASURES))
    for a, b in combinations(args.strategies, 2):
        cells = []
        for m in MEASURES:
            x, y = np.asarray(values[a][m]), np.asarray(values[b][m])
            p = wilcoxon(x, y).pvalue if np.any(x != y) else 1.0
            cells.append(f"p = {p:.2g} ({int((x > y).sum())} of {len(x)})")
        print(f"| {a} vs {b} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
