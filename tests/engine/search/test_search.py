import numpy as np
import pytest
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated

from aebnas import train_candidate
from aebnas.engine.search import STORE_FILE, Search, TrialState
from aebnas.engine.search.front import FrontPoint, hypervolume
from aebnas.engine.search.strategies import ACQUISITIONS, BayesianOptimisation, Proposal
from aebnas.engine.search.strategies._surrogate_nsga2 import surrogate_front
from aebnas.engine.search.strategies.proposals import feasible_macs_budgets, random_proposals
from aebnas.exceptions import AebnasError, StoreError
from aebnas.predictors import macs_budget_column, macs_budget_features, objective_model
from aebnas.search_space.macs import path_costs
from tests.conftest import BACKBONE_EPOCHS, with_backbones

SMALL = dict(dataset="digits", budget=6, batch_size=2, n_init=4, epochs=3, backbone_epochs=BACKBONE_EPOCHS,
             strategy=BayesianOptimisation(pool_size=40), confirm_top=1, confirm_epochs=1, device="cpu")


@pytest.fixture(scope="module")
def finished(digits, digits_backbones, tmp_path_factory):
    search = Search(with_backbones(tmp_path_factory.mktemp("run"), digits_backbones), data=digits, **SMALL)
    search.run()
    return search


def test_small_search_end_to_end(finished):
    complete = finished.trials(TrialState.COMPLETE)
    assert len(complete) == SMALL["budget"]
    assert [t.source for t in complete].count("bo") == SMALL["budget"] - SMALL["n_init"]
    assert len({t.arch_id for t in finished.trials()}) == len(finished.trials())  # never repeats an architecture
    front = finished.front()
    assert front and all(a.avg_macs < b.avg_macs and a.accuracy < b.accuracy for a, b in zip(front, front[1:]))
    assert 0 < finished.hypervolume() < 1
    confirmed = finished.store.confirmed()
    assert len(confirmed) == 1
    result = next(iter(confirmed.values()))
    assert result.verified  # cached-output metrics equal real early-exit inference
    assert result.real_inference.accuracy == pytest.approx(result.test.accuracy)
    assert (finished.run_dir / result.checkpoint).is_file()


def test_stored_macs_are_the_exact_counts(finished):
    for trial in finished.trials(TrialState.COMPLETE):
        assert trial.path_macs == path_costs(trial.arch, (1, 8, 8), 10).paths


def test_macs_objective_equals_the_exact_budget(finished):
    predictor, _ = finished.predictors.fit(finished.trials(TrialState.COMPLETE))
    archs = finished.space.sample_many(5, 0)
    budgets = [path_costs(a, (1, 8, 8), 10).paths[-1] * 0.7 for a in archs]
    X, names = macs_budget_features(finished.space, archs, None, budgets)
    model = objective_model(predictor, macs_budget_column(names))
    macs = model.posterior(torch.as_tensor(X)).mean[..., 1]
    assert torch.allclose(-macs.flatten().double(), torch.tensor(budgets, dtype=torch.float64), rtol=1e-9)


def test_fixed_budget_rows_stay_within_the_searched_range(finished):
    complete = finished.trials(TrialState.COMPLETE)
    shared = finished.predictors.rows(complete, grid="shared")
    assert shared.macs_budgets.max() == pytest.approx(finished.ref_macs)  # the search never asks above it
    relative = finished.predictors.rows(complete)
    assert len(np.unique(relative.groups)) == SMALL["budget"]


@pytest.mark.parametrize("whole_curve", [False, True])
@pytest.mark.parametrize("acquisition", ACQUISITIONS.names())
def test_bo_proposals_are_new_distinct_and_within_the_cap(finished, acquisition, whole_curve):
    predictor, X = finished.predictors.fit(finished.trials(TrialState.COMPLETE))
    trained = {t.arch_id for t in finished.trials()}
    bo = BayesianOptimisation(acquisition, pool_size=30, whole_curve=whole_curve)
    pending = [Proposal(t.arch, t.macs_budget) for t in finished.trials()[:2]]
    proposals = bo.select(finished.space, predictor, 3, X, [], set(trained), pending, finished.ref_accuracy,
                          finished.ref_macs, seed=0)
    assert len(proposals) == 3
    assert len({p.arch.id for p in proposals}) == 3 and not trained & {p.arch.id for p in proposals}
    assert all(p.macs_budget <= finished.ref_macs and np.isfinite(p.predicted.mean) for p in proposals)
    assert all(p.macs_budget in feasible_macs_budgets(finished.space.costs(p.arch), finished.ref_macs)
               for p in proposals)
    assert {p.source for p in proposals} == {"bo"}


def test_bo_baseline_keeps_the_predicted_front_first(finished):
    predictor, X = finished.predictors.fit(finished.trials(TrialState.COMPLETE))
    column = macs_budget_column(finished.predictors.rows(finished.trials(TrialState.COMPLETE)).names)
    mean, _ = predictor.predict(X)
    front = is_non_dominated(torch.as_tensor(np.c_[mean, -X[:, column]]))
    size = int(front.sum()) + 3
    kept = BayesianOptimisation(max_baseline=size)._baseline(predictor, X, column)
    assert len(X) > size and len(kept) == size
    assert {tuple(r) for r in X[front.numpy()]} <= {tuple(r) for r in kept}  # no front row dropped
    assert BayesianOptimisation(max_baseline=len(X))._baseline(predictor, X, column) is X


def test_interrupted_run_resumes_without_retraining(digits, digits_backbones, finished, tmp_path):
    def stop_after_three(trial):
        if len(search.trials(TrialState.COMPLETE)) == 3:
            raise KeyboardInterrupt

    search = Search(with_backbones(tmp_path, digits_backbones), data=digits, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        search.run(callback=stop_after_three)
    before = {t.number: t.finished for t in search.trials(TrialState.COMPLETE)}
    assert len(before) == 3
    search.close()
    resumed = Search(tmp_path, data=digits, **SMALL)
    resumed.run()
    after = resumed.trials(TrialState.COMPLETE)
    assert {t.number: t.finished for t in after if t.number in before} == before  # not retrained
    assert len(after) == SMALL["budget"]
    # same seeds, deterministic CPU training: the same trials as the uninterrupted run, bit for bit
    expected = finished.trials(TrialState.COMPLETE)
    assert [t.arch_id for t in after] == [t.arch_id for t in expected]
    assert [t.metrics for t in after] == [t.metrics for t in expected]
    assert [t.curve.to_dict() for t in after] == [t.curve.to_dict() for t in expected]
    assert [t.predicted for t in after] == [t.predicted for t in expected]


def test_a_trial_left_running_by_a_crash_is_retried(digits, digits_backbones, tmp_path):
    search = Search(with_backbones(tmp_path, digits_backbones), data=digits, **{**SMALL, "budget": 2, "n_init": 2, "confirm_top": 0})
    trial = search.ask(1)[0]
    search.store.mark_running(trial.number)  # as if the process died while training it
    search.close()
    resumed = Search(tmp_path, data=digits, **{**SMALL, "budget": 2, "n_init": 2, "confirm_top": 0})
    resumed.run()
    retried = resumed.store.trial(trial.number)
    assert retried.state == TrialState.COMPLETE and retried.attempts == 2
    assert len(resumed.trials(TrialState.COMPLETE)) == 2


def test_failed_training_is_recorded_and_the_run_goes_on(digits, tmp_path):
    search = Search(tmp_path, data=digits, **{**SMALL, "budget": 2, "n_init": 2, "confirm_top": 0, "lr": 1e30,
                                                  "mode": "joint"})
    search.run()
    failed = search.trials(TrialState.FAILED)
    assert len(failed) == 2 and all("non-finite loss" in t.error for t in failed)


def test_a_different_config_on_an_existing_run_is_refused(finished, digits):
    with pytest.raises(StoreError, match=r"different config \(differs in: epochs\)"):
        Search(finished.run_dir, data=digits, **{**SMALL, "epochs": 4})
    with pytest.raises(StoreError, match=r"differs in: strategy"):
        Search(finished.run_dir, data=digits, **{**SMALL, "strategy": BayesianOptimisation(pool_size=41)})
    assert Search(finished.run_dir, data=digits, **{**SMALL, "budget": 8}).config.budget == 8  # a larger budget resumes


def test_new_starts_afresh_keeping_the_old_store(digits, tmp_path):
    Search(tmp_path, data=digits, **SMALL).ask(1)
    fresh = Search(tmp_path, data=digits, new=True, **{**SMALL, "epochs": 4})
    assert fresh.trials() == []
    assert list(tmp_path.glob(f"{STORE_FILE}.*.old"))


def test_ask_tell_round_trip(digits, tmp_path):
    search = Search(tmp_path, data=digits, **{**SMALL, "n_init": 2})
    asked = search.ask(2)
    assert [t.state for t in asked] == [TrialState.PENDING] * 2
    assert all(t.macs_budget <= search.ref_macs for t in asked)
    for trial in asked:  # the user trains candidates their own way
        result = train_candidate(trial.arch, digits, search.config.train_config(), "joint")
        told = search.tell(trial, result.outputs)
        assert told.state == TrialState.COMPLETE and told.metrics.accuracy_at_macs_budget > 0.1
        assert told.curve.to_dict() == result.curve.to_dict()  # the same fine curve as train_candidate's
    with pytest.raises(AebnasError, match="already complete"):
        search.tell(asked[0], result.outputs)
    more = search.ask(2)  # now from the predictor: never one already asked
    assert {t.source for t in more} == {"bo"}
    assert not {t.arch_id for t in more} & {t.arch_id for t in asked}
    assert search.tell(more[0], error="out of memory on my GPU").state == TrialState.FAILED


def test_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(AebnasError, match="unknown search setting"):
        Search(tmp_path, budgett=3)
    with pytest.raises(AebnasError, match="allowed: bo, random"):
        Search(tmp_path, strategy="evolution")
    with pytest.raises(AebnasError, match="allowed: digits"):
        Search(tmp_path, dataset="imagenet")


def _predicted_hv(finished, predictor, archs, macs_budgets) -> float:
    X, _ = macs_budget_features(finished.space, archs, None, macs_budgets)
    mean, _ = predictor.predict(X)
    points = [FrontPoint(-1, "", float(b), float(m), ()) for m, b in zip(mean, macs_budgets)]
    return hypervolume(points, finished.ref_macs, finished.ref_accuracy)


def test_nsga2_on_the_predictor_finds_a_better_predicted_front_than_random_samples(finished):
    complete = finished.trials(TrialState.COMPLETE)
    predictor, _ = finished.predictors.fit(complete)
    evolved = surrogate_front(finished.space, predictor, complete, finished.ref_macs, seed=0, population_size=24,
                              generations=15)
    assert len(evolved) == 24 and len({i.key for i in evolved}) == 24
    for individual in evolved:
        assert finished.space.is_valid(individual.arch)
        assert individual.macs_budget in feasible_macs_budgets(finished.space.costs(individual.arch), finished.ref_macs)
    samples = random_proposals(finished.space, 24, np.random.default_rng(0), set(), finished.ref_macs)
    assert (_predicted_hv(finished, predictor, [i.arch for i in evolved], [i.macs_budget for i in evolved])
            > _predicted_hv(finished, predictor, [p.arch for p in samples], [p.macs_budget for p in samples]))


def test_bo_adds_the_evolved_population_to_its_pool_and_proposes_only_new_architectures(finished):
    complete = finished.trials(TrialState.COMPLETE)
    trained = {t.arch_id for t in complete}
    evolved = [complete[0].arch] + finished.space.sample_many(3, np.random.default_rng(1), trained)
    archs, _ = BayesianOptimisation(pool_size=5).pool(finished.space, [], trained, np.random.default_rng(0),
                                                      finished.ref_macs, evolved)
    ids = {a.id for a in archs}
    assert {a.id for a in evolved[1:]} <= ids and complete[0].arch_id not in ids
    predictor, X = finished.predictors.fit(complete)
    proposals = BayesianOptimisation(pool_size=5).select(finished.space, predictor, 3, X, [], trained, [],
                                                         finished.ref_accuracy, finished.ref_macs, 0, evolved)
    assert len({p.arch.id for p in proposals}) == 3 and not trained & {p.arch.id for p in proposals}
