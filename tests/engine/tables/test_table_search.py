"""Searches against a benchmark table: every strategy proposes only table members, pairs with the others
on its initial design, resumes as an uninterrupted run, sees the training noise its seed selects, and
gets exactly what a real search training the same architectures gets; settings that contradict the
table are refused."""

import numpy as np
import pytest

from aebnas.cli import main
from aebnas.engine.evaluation import CURVES, CandidateOutputs
from aebnas.engine.execution import ProcessExecutor, TrialJob
from aebnas.engine.search import STRATEGIES, Search, SearchConfig, TrialState, create_strategy
from aebnas.engine.search.strategies import FixedDesign
from aebnas.engine.search.table_stats import table_space
from aebnas.engine.tables import TableRunner
from aebnas.exceptions import AebnasError, TableError
from tests.conftest import SEEDS, SIZE, TINY_TABLE, with_backbones

#: strategies searching a table at the tests' scale ("fixed" lists the table's last architectures)
SMALL = {"bo": dict(pool_size=30), "paper": dict(population_size=16, generations=5)}
BUDGET = 6


def _strategy(name, table):
    if name == "fixed":
        return FixedDesign([e.arch for e in table.entries[::-1]])
    return create_strategy(name, **SMALL.get(name, {}))


def _search(run_dir, table, path, strategy, seed=1, **settings):
    config = SearchConfig.for_table(table, str(path), strategy=_strategy(strategy, table), seed=seed,
                                    budget=settings.pop("budget", BUDGET), batch_size=2, n_init=2, **settings)
    return Search(run_dir, config=config, table=table)


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_every_strategy_searches_the_table_and_resumes_the_same(strategy, tiny_table, tiny_table_path, tmp_path):
    full = _search(tmp_path / "full", tiny_table, tiny_table_path, strategy)
    full.run()
    complete = full.trials(TrialState.COMPLETE)
    assert len(complete) == BUDGET and len({t.arch_id for t in complete}) == BUDGET
    assert all(t.arch_id in tiny_table for t in complete)  # proposals are table members only
    assert not list((tmp_path / "full").glob("trials")) and not list((tmp_path / "full").glob("backbones"))
    for t in complete:  # each trial is the table's result for the search's seed
        result = tiny_table.entry(t.arch_id).result(1)
        assert t.curve == result.curves[full.config.strategy.curve_method].val
        assert t.metrics.exit_accuracy_test == result.exit_accuracy_test and t.train_seconds == result.train_seconds

    def stop_after_three(trial):
        if len(search.trials(TrialState.COMPLETE)) == 3:
            raise KeyboardInterrupt

    search = _search(tmp_path / "resumed", tiny_table, tiny_table_path, strategy)
    with pytest.raises(KeyboardInterrupt):
        search.run(callback=stop_after_three)
    search.close()
    resumed = _search(tmp_path / "resumed", tiny_table, tiny_table_path, strategy)
    resumed.run()
    assert [(t.arch_id, t.macs_budget, t.source, t.predicted, t.metrics) for t in resumed.trials()] == \
        [(t.arch_id, t.macs_budget, t.source, t.predicted, t.metrics) for t in complete]


def test_strategies_pair_on_their_initial_design_per_seed(tiny_table, tiny_table_path, tmp_path):
    first = {}
    for strategy in ("random", "bo", "nsga2", "paper"):
        with _search(tmp_path / strategy, tiny_table, tiny_table_path, strategy) as search:
            first[strategy] = [(t.arch_id, t.macs_budget) for t in search.ask(2)]
    assert len(set(map(tuple, first.values()))) == 1
    with _search(tmp_path / "other-seed", tiny_table, tiny_table_path, "random", seed=2) as search:
        assert [(t.arch_id, t.macs_budget) for t in search.ask(2)] != first["random"]


def test_a_table_search_equals_a_real_search_of_the_architectures_it_picks(tiny_table, tiny_table_path, digits,
                                                                          digits_backbones, tmp_path):
    looked_up = _search(tmp_path / "table", tiny_table, tiny_table_path, "paper", seed=0)
    looked_up.run()
    picked = looked_up.trials(TrialState.COMPLETE)
    real = Search(with_backbones(tmp_path / "real", digits_backbones), data=digits,
                  config=SearchConfig(**TINY_TABLE, strategy=FixedDesign([t.arch for t in picked]), budget=BUDGET,
                                      batch_size=2, confirm_top=0))
    real.run()
    trained = {t.arch_id: t for t in real.trials(TrialState.COMPLETE)}
    for t in picked:  # the paper's method: grid curves, recomputed from the real run's outputs
        twin = trained[t.arch_id]
        outputs = CandidateOutputs.load(real.run_dir / twin.outputs_path)
        assert t.curve == CURVES.get("grid")(outputs.val, twin.path_macs, "margin")
        assert t.path_macs == twin.path_macs
        assert t.metrics.exit_accuracy_val == twin.metrics.exit_accuracy_val
        assert t.metrics.exit_accuracy_test == twin.metrics.exit_accuracy_test
        assert tiny_table.entry(t.arch_id).results[0].curves["fine"].val == twin.curve


def test_the_search_seed_selects_one_training_of_the_noise_subset(tiny_table):
    entry = tiny_table.noise_entries[0]
    settings = SearchConfig(**TINY_TABLE).trial_settings(table_space(tiny_table))
    curves = []
    for seed in range(2 * SEEDS):
        outcome = TableRunner(tiny_table, settings, seed).run(TrialJob(0, entry.arch, settings, "unused"))
        curves.append(outcome.curve)
    assert curves[:SEEDS] == [r.curves["fine"].val for r in entry.results] and curves[SEEDS:] == curves[:SEEDS]


def test_the_table_space_samples_and_mutates_into_its_members(tiny_table):
    space = table_space(tiny_table)
    members = {e.arch_id for e in tiny_table.entries}
    rng = np.random.default_rng(0)
    exclude = set(list(members)[:5])
    sampled = space.sample_many(SIZE, rng, exclude)
    assert {a.id for a in sampled} == members - exclude
    for arch in space.members:
        child = space.mutate(arch, rng)
        assert child.id in members and child.id != arch.id
    outsider = space.base.mutate(space.base.sample(3), 4)
    assert outsider.id not in members and not space.is_valid(outsider) and space.base.is_valid(outsider)


def test_settings_that_contradict_the_table_are_refused(tiny_table, tiny_table_path, tmp_path):
    with pytest.raises(TableError, match=r"dataset='mnist' \(the table's: 'digits'\)"):
        SearchConfig.for_table(tiny_table, str(tiny_table_path), dataset="mnist")
    with pytest.raises(TableError, match=r"epochs=5 \(the table's: 2\)"):
        SearchConfig.for_table(tiny_table, str(tiny_table_path), epochs=5)
    with pytest.raises(TableError, match=f"budget {SIZE + 1} exceeds the {SIZE} architectures"):
        SearchConfig.for_table(tiny_table, str(tiny_table_path), budget=SIZE + 1, batch_size=2)
    with pytest.raises(AebnasError, match="cannot confirm candidates"):
        SearchConfig.for_table(tiny_table, str(tiny_table_path), confirm_top=1)
    with pytest.raises(TableError, match="trained with other settings"):  # the search checks a hand-made config
        Search(tmp_path / "hand", config=SearchConfig(**{**TINY_TABLE, "epochs": 3}, table=str(tiny_table_path),
                                                      confirm_top=0))
    with _search(tmp_path / "pool", tiny_table, tiny_table_path, "random") as search:
        with pytest.raises(AebnasError, match="use the local executor"):
            search.run(executor=ProcessExecutor(workers=1))
        assert search.trials() == []


def test_cli_table_search_show_and_build(tiny_table_path, digits_backbones, tmp_path, capsys):
    argv = ["search", "--table", str(tiny_table_path), "--run-dir", str(tmp_path / "run"), "--strategy", "nsga2",
            "--batch-size", "2", "--n-init", "2", "--quiet"]
    assert main(argv + ["--budget", "4"]) == 0
    assert main(argv + ["--budget", "5"]) == 0  # the same command with a larger budget continues the run
    search = Search.open(tmp_path / "run")
    assert len(search.trials(TrialState.COMPLETE)) == 5 and search.config.table == str(tiny_table_path)
    capsys.readouterr()
    assert main(["table", "show", str(tiny_table_path)]) == 0
    out = capsys.readouterr().out
    assert f"{SIZE} architectures" in out and "oracle front" in out and "noise std" in out
    with_backbones(tmp_path / "b.build" / "seed-0", digits_backbones)
    build = ["table", "build", "--dataset", "digits", "--epochs", "2", "--backbone-epochs", "2", "--device", "cpu",
             "-n", "3", "--seeds", "2", "--seed-subset", "1", "--out", str(tmp_path / "b.json.gz"), "--quiet"]
    assert main(build) == 0
    assert main(["table", "show", str(tmp_path / "b.json.gz")]) == 0
    assert "3 architectures; 1 trained with 2 seeds" in capsys.readouterr().out


def test_the_api_takes_a_loaded_table_or_its_path(tiny_table, tiny_table_path, tmp_path):
    runs = {}
    for name, table in (("a", tiny_table), ("b", str(tiny_table_path))):
        with Search(tmp_path / name, table=table, strategy="random", seed=4, budget=3, batch_size=3) as search:
            search.run()
            runs[name] = ([t.arch_id for t in search.trials()], search.hypervolume(), search.config)
    assert runs["a"][:2] == runs["b"][:2]
    assert runs["a"][2].table == str(tiny_table_path) and runs["a"][2].epochs == TINY_TABLE["epochs"]
    reopened = Search.open(tmp_path / "a")
    assert reopened.table is not None and reopened.hypervolume() == runs["a"][1]
