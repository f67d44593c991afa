"""Every registered proposal strategy: a tiny search on digits from the API and from the CLI, proposals new
and within the MACs cap, a resumed run the same as an uninterrupted one; and the baselines' own parts."""

import math
import shutil

import numpy as np
import pytest
import torch

from aebnas.cli import main
from aebnas.datasets import load_dataset
from aebnas.engine.macs import path_costs
from aebnas.engine.outputs import ExitOutputs
from aebnas.engine.search import Search
from aebnas.engine.store import TrialState
from aebnas.engine.strategies import STRATEGIES, paper_grid_curve
from aebnas.engine.strategies._nsga2 import NSGA2, exit_crossover, population_pairs
from aebnas.engine.strategies._paper import PaperMethod
from aebnas.engine.thresholds import PAPER_GRID, evaluate_thresholds, paper_grid, tradeoff_curve
from aebnas.search_space import SearchSpace

TINY = dict(dataset="digits", budget=5, batch_size=2, n_init=2, epochs=2, backbone_epochs=2, pool_size=30,
            confirm_top=0, device="cpu")
GRID = {float(np.float32(v)) if v < 1 else math.inf for v in PAPER_GRID}  # float32, as stored


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def backbones(digits, tmp_path_factory):
    """The frozen backbone of TINY's runs, trained once; copied into each run directory, so every run (first
    or resumed) loads the same saved backbone and its cached features."""
    run_dir = tmp_path_factory.mktemp("backbone")
    Search(run_dir, data=digits, **TINY).backbone
    return run_dir / "backbones"


@pytest.fixture(autouse=True)
def small_surrogate_search(monkeypatch):
    """The paper's NSGA-II on the surrogate at a test's scale (the whole loop still runs)."""
    monkeypatch.setattr(PaperMethod, "population_size", 16)
    monkeypatch.setattr(PaperMethod, "generations", 5)


def _with_backbone(run_dir, backbones):
    shutil.copytree(backbones, run_dir / "backbones")
    return run_dir


def _grid_only(thresholds) -> bool:
    return all(float(t) in GRID for row in thresholds for t in (row if isinstance(row, list) else [row]))


def _check_trials(search: Search, strategy: str) -> list:
    trials = search.trials()
    complete = search.trials(TrialState.COMPLETE)
    assert len(complete) == len(trials)
    assert len({t.arch_id for t in trials}) == len(trials)  # never proposes an architecture twice
    for t in complete:
        assert t.budget <= search.ref_macs and min(t.path_macs) <= search.ref_macs  # within the cap
        assert search.space.is_valid(t.arch)
    own = "init" if strategy != "random" else "random"
    assert [t.source for t in complete[:TINY["n_init"]]] == [own] * TINY["n_init"]
    assert {t.source for t in complete[TINY["n_init"]:]} == {strategy}
    if getattr(STRATEGIES.get(strategy), "thresholds", "fine") == "grid":
        assert all(_grid_only(t.curve["thresholds"]) for t in complete)
    return complete


def test_every_strategy_starts_from_random_searchs_own_first_candidates(digits, tmp_path):
    first = {}
    for strategy in STRATEGIES.names():
        search = Search(tmp_path / strategy, data=digits, strategy=strategy, **TINY)
        first[strategy] = [(t.arch_id, t.budget) for t in search.ask(TINY["n_init"])]
        search.store.close()
    assert len(set(map(tuple, first.values()))) == 1  # common random numbers: strategies differ only after
    assert len({arch for arch, _ in first["random"]}) == TINY["n_init"]


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_api_search_and_an_interrupted_run_resumes_the_same(strategy, digits, backbones, tmp_path):
    full = Search(_with_backbone(tmp_path / "full", backbones), data=digits, strategy=strategy, **{**TINY, "confirm_top": 1, "confirm_epochs": 1})
    full.run()
    complete = _check_trials(full, strategy)
    assert len(complete) == TINY["budget"] and full.hypervolume() > 0
    confirmed = next(iter(full.store.confirmed().values()))
    assert confirmed["verified"]
    if strategy == "paper":
        assert _grid_only(confirmed["val"]["thresholds"])

    def stop_after_three(trial):
        if len(search.trials(TrialState.COMPLETE)) == 3:
            raise KeyboardInterrupt

    search = Search(_with_backbone(tmp_path / "resumed", backbones), data=digits, strategy=strategy, **TINY)
    with pytest.raises(KeyboardInterrupt):
        search.run(callback=stop_after_three)
    search.store.close()
    resumed = Search(tmp_path / "resumed", data=digits, strategy=strategy, **TINY)
    resumed.run()
    after = resumed.trials(TrialState.COMPLETE)
    assert len(after) == TINY["budget"] and len({t.arch_id for t in after}) == TINY["budget"]
    ids, expected = [t.arch_id for t in after], [t.arch_id for t in complete]
    assert ids == expected  # stateless strategies: the same proposals as the uninterrupted run


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_cli_search_runs_and_resumes(strategy, backbones, tmp_path, capsys):
    _with_backbone(tmp_path, backbones)
    argv = ["search", "--dataset", "digits", "--run-dir", str(tmp_path), "--strategy", strategy, "--batch-size", "2",
            "--n-init", "2", "--epochs", "2", "--backbone-epochs", "2", "--pool-size", "30", "--confirm-top", "0",
            "--quiet", "--device", "cpu"]
    assert main(argv + ["--budget", "4"]) == 0
    assert "validation front" in capsys.readouterr().out
    assert main(argv + ["--budget", "5"]) == 0  # the same command with a larger budget continues the run
    search = Search.open(tmp_path)
    assert search.config.strategy == strategy
    assert len(_check_trials(search, strategy)) == 5


def _outputs(n=400, exits=3, classes=10, seed=0) -> ExitOutputs:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=g)
    logits = torch.randn(n, exits, classes, generator=g)
    logits[torch.arange(n), :, labels] += torch.linspace(0.5, 3.0, exits)  # later exits are better
    return ExitOutputs(logits, labels)


def test_paper_grid_curve_is_the_pareto_set_of_the_grid_and_never_beats_the_fine_curve():
    outputs, costs = _outputs(), [100.0, 250.0, 400.0]
    grid = paper_grid_curve(outputs, costs)
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
    for _ in range(30):
        a, b = space.sample(rng), space.sample(rng)
        child = exit_crossover(space, a, b, rng)
        if child is not None:
            assert space.is_valid(child)
            assert set(child.exits) <= set(a.exits) | set(b.exits)


def test_nsga2_offspring_are_new_valid_and_within_the_cap(digits, backbones, tmp_path):
    search = Search(_with_backbone(tmp_path, backbones), data=digits, strategy="random", **{**TINY, "budget": 4})
    search.run()
    complete = search.trials(TrialState.COMPLETE)
    pairs = population_pairs(search.space, complete, search.ref_macs)
    assert len(pairs) > len(complete)  # each trained network enters at several budgets
    for arch, budget, accuracy in pairs:
        curve = next(t.curve for t in complete if t.arch_id == arch.id)
        assert accuracy == pytest.approx(max(a for a, m in zip(curve["accuracy"], curve["avg_macs"]) if m <= budget))
    exclude = {t.arch_id for t in complete}
    children = NSGA2().offspring(search.space, pairs, 6, exclude, search.ref_macs, 8, np.random.default_rng(0))
    assert len(children) == 6 and len({c.arch.id for c in children}) == 6 and not exclude & {c.arch.id for c in children}
    for child in children:
        assert search.space.is_valid(child.arch)
        assert min(path_costs(child.arch, (1, 8, 8), 10).paths) <= child.budget <= search.ref_macs
