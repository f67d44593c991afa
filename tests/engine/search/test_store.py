"""The run store: typed records round-trip through SQLite, state changes, the config check, snapshot and
confirmation rows, the versions that wrote the run, and refusing files that are not a run store (left
untouched)."""

import json
import sqlite3

import pytest
import torch

from aebnas.engine.evaluation import TradeoffCurve, TunedThresholds
from aebnas.engine.search import STORE_FILE, ConfirmedCandidate, Prediction, RunStore, TrialMetrics, TrialState
from aebnas.engine.search.records import RealInference
from aebnas.engine.search.store import current_versions
from aebnas.exceptions import StoreError
from aebnas.search_space import SearchSpace

CONFIG = {"dataset": "digits", "epochs": 3}


def curve() -> TradeoffCurve:
    return TradeoffCurve(torch.tensor([[0.5], [float("inf")]]), torch.tensor([0.8, 0.9], dtype=torch.float64),
                         torch.tensor([100.0, 200.0], dtype=torch.float64),
                         torch.tensor([[0.6, 0.4], [0.0, 1.0]], dtype=torch.float64))


@pytest.fixture
def arch():
    return SearchSpace("extended", (1, 8, 8), 10).sample(0)


def test_trials_round_trip_with_their_records(tmp_path, arch):
    store = RunStore.open(tmp_path, CONFIG)
    trial = store.add_trial(arch, "bo", seed=3, macs_budget=150.5, predicted=Prediction(0.7, 0.05))
    assert (trial.number, trial.state, trial.arch, trial.macs_budget) == (1, TrialState.PENDING, arch, 150.5)
    assert trial.predicted == Prediction(0.7, 0.05)
    store.mark_running(trial.number)
    assert store.trial(1).state == TrialState.RUNNING and store.trial(1).attempts == 1
    metrics = TrialMetrics((0.8, 0.9), (0.79, 0.91), accuracy_at_macs_budget=0.85, accuracy_at_target=float("nan"))
    done = store.complete(1, (100, 200), metrics, curve(), "trials/1/outputs.pt", "trials/1/model.pt", 1.5)
    assert done.state == TrialState.COMPLETE and done.path_macs == (100, 200) and done.train_seconds == 1.5
    assert done.metrics == TrialMetrics((0.8, 0.9), (0.79, 0.91), 0.85, None)  # NaN stored as None
    assert done.curve.to_dict() == curve().to_dict()  # +inf thresholds survive strict JSON
    store.close()
    again = RunStore.open(tmp_path, CONFIG)  # the same config reopens; the records are as stored
    assert again.trial(1) == done
    failed = again.add_trial(arch, "init", seed=3)
    assert again.fail(failed.number, "out of memory").error == "out of memory"
    assert [t.number for t in again.trials(TrialState.FAILED)] == [failed.number]
    assert [t.number for t in again.trials()] == [1, 2]
    with pytest.raises(StoreError, match="no trial 9"):
        again.trial(9)


def test_a_different_config_is_refused_naming_the_difference(tmp_path):
    RunStore.open(tmp_path, CONFIG).close()
    with pytest.raises(StoreError, match=r"differs in: epochs"):
        RunStore.open(tmp_path, {**CONFIG, "epochs": 4})
    fresh = RunStore.open(tmp_path, {**CONFIG, "epochs": 4}, new=True)  # the old store is kept aside
    assert fresh.trials() == [] and len(list(tmp_path.glob(f"{STORE_FILE}.*.old"))) == 1


def _set_versions(path, versions: str | None) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = 'versions'")
        if versions is not None:
            db.execute("INSERT INTO meta (key, value) VALUES ('versions', ?)", (versions,))


def test_each_set_of_versions_that_writes_the_run_is_recorded_once(tmp_path, arch):
    store = RunStore.open(tmp_path, CONFIG)
    assert [v["versions"] for v in store.versions] == [current_versions()] and store.versions[0]["trials"] == 0
    store.add_trial(arch, "random", seed=0)
    store.close()
    store = RunStore.open(tmp_path, CONFIG)  # a resume with the same versions adds nothing
    store.add_trial(SearchSpace("extended", (1, 8, 8), 10).sample(1), "random", seed=0)
    assert len(store.versions) == 1
    store.close()
    older = dict(current_versions(), torch="1.0.0")
    _set_versions(tmp_path / STORE_FILE, f'[{{"since": 0, "trials": 2, "versions": {json.dumps(older)}}}]')
    store = RunStore.open(tmp_path, CONFIG)
    assert store.versions[0]["versions"]["torch"] == "1.0.0"  # reading records nothing
    store.fail(1, "error")  # a write: this process's versions differ from the last recorded
    assert [v["versions"] for v in store.versions] == [older, current_versions()] and store.versions[1]["trials"] == 2
    store.close()


def test_a_store_written_before_versions_were_recorded_opens_with_none(tmp_path):
    RunStore.open(tmp_path, CONFIG).close()
    _set_versions(tmp_path / STORE_FILE, None)
    store = RunStore.open(tmp_path, CONFIG)
    assert store.versions == []
    store.close()


def test_a_predictor_snapshot_row_is_written_once_per_kind_and_trials(tmp_path):
    store = RunStore.open(tmp_path, CONFIG)
    for path in ("predictors/a.json", "predictors/b.json"):  # e.g. a proposal interrupted and made again
        store.add_predictor(4, "xgboost", path)
    store.add_predictor(6, "xgboost", "predictors/c.json")
    rows = store._db.execute("SELECT complete_trials, path FROM predictors ORDER BY complete_trials").fetchall()
    assert [tuple(r) for r in rows] == [(4, "predictors/b.json"), (6, "predictors/c.json")]


def test_confirmed_candidates_round_trip(tmp_path, arch):
    store = RunStore.open(tmp_path, CONFIG)
    c = curve()
    tuned = TunedThresholds(torch.tensor([0.5]), 0.8, 100.0, torch.tensor([0.6, 0.4], dtype=torch.float64))
    test = TunedThresholds(torch.tensor([0.5]), 0.78, 104.0, torch.tensor([0.55, 0.45], dtype=torch.float64))
    result = ConfirmedCandidate(arch.id, 1, 101.0, tuned, test, RealInference(0.78, 104.0, (0.55, 0.45)), True, c,
                                ((100.0, 0.78), (200.0, 0.88)), (100, 200), 2, 0.5, "confirmed/x/model.pt")
    assert result.over_budget  # 104 average MACs on test against a MACs budget of 101 tuned on validation
    store.add_confirmed(result)
    back = store.confirmed()[arch.id]
    assert back.to_dict() == result.to_dict() and back.test.avg_macs == 104.0 and back.over_budget


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
