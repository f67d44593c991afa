import sqlite3

import numpy as np
import pytest
import torch

from aebnas.datasets import load_dataset
from aebnas.engine.candidate import train_candidate
from aebnas.engine.macs import path_costs
from aebnas.engine.proposer import BOProposer
from aebnas.engine.report import write_report
from aebnas.engine.search import Search
from aebnas.engine.store import STORE_FILE, RunStore, TrialState
from aebnas.exceptions import AebnasError, StoreError
from aebnas.predictors import budget_column, budget_features, objective_model

SMALL = dict(dataset="digits", budget=6, batch_size=2, n_init=4, epochs=3, backbone_epochs=3, pool_size=40,
             confirm_top=1, confirm_epochs=1, device="cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def finished(digits, tmp_path_factory):
    search = Search(tmp_path_factory.mktemp("run"), data=digits, **SMALL)
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
    assert result["verified"]  # cached-output metrics equal real early-exit inference
    assert result["real_inference"]["accuracy"] == pytest.approx(result["test"]["accuracy"])
    report, out = write_report(finished)
    assert report["trials"]["complete"] == SMALL["budget"]
    for name in ("report.json", "front.csv", "trials.csv", "front.png", "hypervolume.png", "predicted_vs_measured.png"):
        assert (out / name).stat().st_size > 0


def test_stored_macs_are_the_exact_counts(finished):
    for trial in finished.trials(TrialState.COMPLETE):
        assert trial.path_macs == path_costs(trial.arch, (1, 8, 8), 10).paths


def test_macs_objective_equals_the_exact_budget(finished):
    predictor, _ = finished.fit_predictor()
    archs = finished.space.sample_many(5, 0)
    budgets = [path_costs(a, (1, 8, 8), 10).paths[-1] * 0.7 for a in archs]
    X, names = budget_features(finished.space, archs, None, budgets)
    model = objective_model(predictor, budget_column(names))
    macs = model.posterior(torch.as_tensor(X)).mean[..., 1]
    assert torch.allclose(-macs.flatten().double(), torch.tensor(budgets, dtype=torch.float64), rtol=1e-9)


def test_fixed_budget_rows_stay_within_the_searched_range(finished):
    shared = finished.training_rows(grid="shared")
    assert shared.budgets.max() == pytest.approx(finished.ref_macs)  # the search never asks above it
    relative = finished.training_rows()
    assert len(np.unique(relative.groups)) == SMALL["budget"]


def test_bo_proposals_are_new_distinct_and_within_the_cap(finished):
    predictor, X = finished.fit_predictor()
    trained = {t.arch_id for t in finished.trials()}
    proposer = BOProposer(finished.space, predictor, finished.ref_accuracy, finished.ref_macs, pool_size=30,
                          max_macs=finished.ref_macs)
    proposals = proposer.propose(3, X, [], set(trained))
    assert len(proposals) == 3
    assert len({p.arch.id for p in proposals}) == 3 and not trained & {p.arch.id for p in proposals}
    assert all(p.budget <= finished.ref_macs and np.isfinite(p.predicted_mean) for p in proposals)


def test_interrupted_run_resumes_without_retraining(digits, finished, tmp_path):
    def stop_after_three(trial):
        if len(search.trials(TrialState.COMPLETE)) == 3:
            raise KeyboardInterrupt

    search = Search(tmp_path, data=digits, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        search.run(callback=stop_after_three)
    before = {t.number: t.finished for t in search.trials(TrialState.COMPLETE)}
    assert len(before) == 3
    search.store.close()
    resumed = Search(tmp_path, data=digits, **SMALL)
    resumed.run()
    after = resumed.trials(TrialState.COMPLETE)
    assert {t.number: t.finished for t in after if t.number in before} == before  # not retrained
    assert len(after) == SMALL["budget"]
    # same seeds, deterministic CPU training: the same trials as the uninterrupted run
    assert [t.arch_id for t in after] == [t.arch_id for t in finished.trials(TrialState.COMPLETE)]


def test_a_trial_left_running_by_a_crash_is_retried(digits, tmp_path):
    search = Search(tmp_path, data=digits, **{**SMALL, "budget": 2, "n_init": 2, "confirm_top": 0})
    trial = search.ask(1)[0]
    search.store.mark_running(trial.number)  # as if the process died while training it
    search.store.close()
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
    assert Search(finished.run_dir, data=digits, **{**SMALL, "budget": 8}).config.budget == 8  # a larger budget resumes


def test_new_starts_afresh_keeping_the_old_store(digits, tmp_path):
    Search(tmp_path, data=digits, **SMALL).ask(1)
    fresh = Search(tmp_path, data=digits, new=True, **{**SMALL, "epochs": 4})
    assert fresh.trials() == []
    assert list(tmp_path.glob(f"{STORE_FILE}.*.old"))


@pytest.mark.parametrize("content", [b"this is not a database" * 50, None])
def test_corrupt_or_foreign_store_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / STORE_FILE
    if content is None:  # a valid SQLite file of another program
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE things (x)")
        db.commit()
        db.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="left untouched"):
        RunStore.open(tmp_path, {"a": 1})
    assert path.read_bytes() == before


def test_ask_tell_round_trip(digits, tmp_path):
    search = Search(tmp_path, data=digits, **{**SMALL, "n_init": 2})
    asked = search.ask(2)
    assert [t.state for t in asked] == [TrialState.PENDING] * 2
    assert all(t.budget <= search.ref_macs for t in asked)
    for trial in asked:  # the user trains candidates their own way
        result = train_candidate(trial.arch, digits, search.config.train_config(), "joint")
        told = search.tell(trial, result.outputs)
        assert told.state == TrialState.COMPLETE and told.curve and told.metrics["accuracy_at_budget"] > 0.1
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
