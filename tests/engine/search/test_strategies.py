"""The strategy contract, run over every registered strategy: a tiny search on digits from the API and from
the CLI, proposals new and within the MACs cap, a resumed run the same as an uninterrupted one, settings
that round-trip through a run's config; and the baselines' own parts."""

import json
import math

import numpy as np
import pytest
import torch

from aebnas.cli import main
from aebnas.engine.evaluation.outputs import ExitOutputs
from aebnas.engine.evaluation.thresholds import PAPER_GRID, evaluate_thresholds, grid_curve, paper_grid, tradeoff_curve
from aebnas.engine.search import STRATEGIES, Search, SearchConfig, TrialState, create_strategy
from aebnas.engine.search.strategies import NSGA2
from aebnas.engine.search.strategies.operators import exit_crossover, population_pairs
from aebnas.exceptions import AebnasError
from aebnas.search_space import SearchSpace
from aebnas.search_space.macs import path_costs
from tests.conftest import BACKBONE_EPOCHS, with_backbones

TINY = dict(dataset="digits", budget=5, batch_size=2, n_init=2, epochs=2, backbone_epochs=BACKBONE_EPOCHS,
            confirm_top=0, device="cpu")
GRID = {float(np.float32(v)) if v < 1 else math.inf for v in PAPER_GRID}  # float32, as stored
#: each registered strategy at a test's scale (a strategy registered later runs with its defaults)
_SPACE = SearchSpace("extended", (1, 8, 8), 10)
#: architectures of the ``fixed`` strategy: random ones whose cheapest exit fits the digits CNN's own cost
_FIXED = tuple(a for a in _SPACE.sample_many(40, 0) if min(_SPACE.costs(a).paths) <= 304_768)[:8]
SMALL_SETTINGS = {"bo": dict(pool_size=30), "paper": dict(population_size=16, generations=5),
                  "fixed": dict(architectures=_FIXED)}
#: strategies with their own initial design (a fixed list proposes only its architectures)
OWN_DESIGN = ("random", "fixed")


def small(name: str):
    return create_strategy(name, **SMALL_SETTINGS.get(name, {}))


def _grid_only(thresholds) -> bool:
    return all(float(t) in GRID for row in thresholds for t in (row if isinstance(row, list) else [row]))


def _check_trials_of_any_source(search: Search) -> list:
    trials = search.trials()
    complete = search.trials(TrialState.COMPLETE)
    assert len(complete) == len(trials)
    assert len({t.arch_id for t in trials}) == len(trials)  # never proposes an architecture twice
    for t in complete:
        assert t.macs_budget <= search.ref_macs and min(t.path_macs) <= search.ref_macs  # within the cap
        assert search.space.is_valid(t.arch)
    return complete


def _check_trials(search: Search, strategy: str) -> list:
    complete = _check_trials_of_any_source(search)
    own = strategy if strategy in OWN_DESIGN else "init"
    assert [t.source for t in complete[:TINY["n_init"]]] == [own] * TINY["n_init"]
    assert {t.source for t in complete[TINY["n_init"]:]} == {strategy}
    if STRATEGIES.get(strategy).curve_method == "grid":
        assert all(_grid_only(t.curve.thresholds.tolist()) for t in complete)
    return complete


def test_every_strategy_starts_from_random_searchs_own_first_candidates(digits, tmp_path):
    first = {}
    for strategy in set(STRATEGIES.names()) - {"fixed"}:
        search = Search(tmp_path / strategy, data=digits, strategy=small(strategy), **TINY)
        first[strategy] = [(t.arch_id, t.macs_budget) for t in search.ask(TINY["n_init"])]
        search.close()
    assert len(set(map(tuple, first.values()))) == 1  # common random numbers: strategies differ only after
    assert len({arch for arch, _ in first["random"]}) == TINY["n_init"]


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_api_search_and_an_interrupted_run_resumes_the_same(strategy, digits, digits_backbones, tmp_path):
    full = Search(with_backbones(tmp_path / "full", digits_backbones), data=digits, strategy=small(strategy),
                  **{**TINY, "confirm_top": 1, "confirm_epochs": 1})
    full.run()
    complete = _check_trials(full, strategy)
    assert len(complete) == TINY["budget"] and full.hypervolume() > 0
    confirmed = next(iter(full.store.confirmed().values()))
    assert confirmed.verified
    if STRATEGIES.get(strategy).curve_method == "grid":
        assert _grid_only(confirmed.val.thresholds.tolist())

    def stop_after_three(trial):
        if len(search.trials(TrialState.COMPLETE)) == 3:
            raise KeyboardInterrupt

    search = Search(with_backbones(tmp_path / "resumed", digits_backbones), data=digits, strategy=small(strategy), **TINY)
    with pytest.raises(KeyboardInterrupt):
        search.run(callback=stop_after_three)
    search.close()
    resumed = Search(tmp_path / "resumed", data=digits, strategy=small(strategy), **TINY)
    resumed.run()
    after = resumed.trials(TrialState.COMPLETE)
    assert len(after) == TINY["budget"] and len({t.arch_id for t in after}) == TINY["budget"]
    # stateless strategies: the same proposals and results as the uninterrupted run
    assert [(t.arch_id, t.macs_budget, t.source, t.predicted) for t in after] == \
        [(t.arch_id, t.macs_budget, t.source, t.predicted) for t in complete]
    assert [t.metrics for t in after] == [t.metrics for t in complete]


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_settings_round_trip_through_a_run_config(strategy):
    default, tuned = create_strategy(strategy), small(strategy)
    for instance in (default, tuned):
        assert create_strategy(**instance.to_dict()) == instance
        config = SearchConfig(strategy=instance)
        assert SearchConfig.from_identity(config.identity()).strategy == instance
    assert (default == tuned) == (strategy not in SMALL_SETTINGS)
    with pytest.raises(AebnasError, match=f"strategy {strategy!r} has no setting bogus"):
        create_strategy(strategy, bogus=1)


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_cli_search_runs_and_resumes(strategy, digits_backbones, tmp_path, capsys):
    with_backbones(tmp_path, digits_backbones)
    argv = ["search", "--dataset", "digits", "--run-dir", str(tmp_path), "--strategy", strategy, "--batch-size", "2",
            "--n-init", "2", "--epochs", "2", "--backbone-epochs", str(BACKBONE_EPOCHS), "--confirm-top", "0",
            "--quiet", "--device", "cpu"]
    for key, value in SMALL_SETTINGS.get(strategy, {}).items():
        if key == "architectures":  # a list of architectures goes in a JSON file
            (tmp_path / "archs.json").write_text(json.dumps([a.to_dict() for a in value]))
            value = tmp_path / "archs.json"
        argv += ["--strategy-option", f"{key}={value}"]
    assert main(argv + ["--budget", "4"]) == 0
    assert "validation front" in capsys.readouterr().out
    assert main(argv + ["--budget", "5"]) == 0  # the same command with a larger budget continues the run
    search = Search.open(tmp_path)
    assert search.config.strategy.name == strategy
    assert len(_check_trials(search, strategy)) == 5


def test_the_papers_search_at_fine_thresholds_builds_fine_curves_and_keeps_the_setting(digits, digits_backbones,
                                                                                       tmp_path):
    strategy = create_strategy("paper", **SMALL_SETTINGS["paper"], thresholds="fine")
    search = Search(with_backbones(tmp_path, digits_backbones), data=digits, strategy=strategy, **TINY)
    search.run()
    search.close()
    reopened = Search.open(tmp_path)
    assert reopened.config.strategy.curve_method == "fine"
    complete = reopened.trials(TrialState.COMPLETE)
    assert {t.source for t in complete[TINY["n_init"]:]} == {"paper"}
    assert not all(_grid_only(t.curve.thresholds.tolist()) for t in complete)  # thresholds off the paper's grid


@pytest.mark.parametrize("batch_size", [2, 1])
def test_bo_with_a_paper_share_takes_that_share_of_the_run_from_the_papers_search(digits, digits_backbones, tmp_path,
                                                                                 batch_size):
    strategy = create_strategy("bo", pool_size=30, paper_share=0.5, pool_generations=3)  # and an evolved pool
    search = Search(with_backbones(tmp_path, digits_backbones), data=digits, strategy=strategy,
                    **{**TINY, "budget": 6, "batch_size": batch_size})
    search.run()
    complete = _check_trials_of_any_source(search)
    # half of each batch of 2; asked one at a time, the two searches alternate
    assert [t.source for t in complete[TINY["n_init"]:]] == ["paper", "bo"] * 2


def _outputs(n=400, exits=3, classes=10, seed=0) -> ExitOutputs:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=g)
    logits = torch.randn(n, exits, classes, generator=g)
    logits[torch.arange(n), :, labels] += torch.linspace(0.5, 3.0, exits)  # later exits are better
    return ExitOutputs(logits, labels)


def test_grid_curve_is_the_pareto_set_of_the_grid_and_never_beats_the_fine_curve():
    outputs, costs = _outputs(), [100.0, 250.0, 400.0]
    grid = grid_curve(outputs, costs)
    assert _grid_only(grid.thresholds.tolist())
    assert torch.all(grid.avg_macs[1:] > grid.avg_macs[:-1]) and torch.all(grid.accuracy[1:] > grid.accuracy[:-1])
    every = evaluate_thresholds(outputs, costs, paper_grid(2))
    for acc, macs in zip(every.accuracy.tolist(), every.avg_macs.tolist()):  # each grid point is on or under it
        assert grid.accuracy_at(macs) >= acc
    fine = tradeoff_curve(outputs, costs)
    assert all(fine.accuracy_at(m) >= a for a, m in zip(grid.accuracy.tolist(), grid.avg_macs.tolist()))


def test_exit_crossover_takes_each_exit_from_a_parent():
    space = SearchSpace("extended", (1, 8, 8), 10)
    rng = np.random.default_rng(0)
    children = 0
    for _ in range(30):
        a, b = space.sample(rng), space.sample(rng)
        child = exit_crossover(space, a, b, rng)
        if child is not None:
            children += 1
            assert space.is_valid(child)
            assert set(child.exits) <= set(a.exits) | set(b.exits)
    assert children >= 15  # most pairs give a child (none only when no exit is kept or the child is invalid)


def test_nsga2_offspring_are_new_valid_and_within_the_cap(digits, digits_backbones, tmp_path):
    search = Search(with_backbones(tmp_path, digits_backbones), data=digits, strategy="random", **{**TINY, "budget": 4})
    search.run()
    complete = search.trials(TrialState.COMPLETE)
    pairs = population_pairs(search.space, complete, search.ref_macs)
    assert len(pairs) > len(complete)  # each trained network enters at several budgets
    for arch, macs_budget, accuracy in pairs:
        curve = next(t.curve for t in complete if t.arch_id == arch.id)
        assert accuracy == pytest.approx(max(a for a, m in zip(curve.accuracy.tolist(), curve.avg_macs.tolist())
                                             if m <= macs_budget))
    exclude = {t.arch_id for t in complete}
    children = NSGA2().offspring(search.space, pairs, 6, exclude, search.ref_macs, 8, np.random.default_rng(0))
    assert len(children) == 6 and len({c.arch.id for c in children}) == 6 and not exclude & {c.arch.id for c in children}
    for child in children:
        assert search.space.is_valid(child.arch)
        assert min(path_costs(child.arch, (1, 8, 8), 10).paths) <= child.macs_budget <= search.ref_macs
