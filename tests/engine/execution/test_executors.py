"""The executor contract, run over every registered executor: a small search completes with the same
results as the in-process executor and a rerun resumes it; for executors with worker processes, a worker
dying mid-trial loses nothing. Options are checked before any worker starts."""

import functools
import inspect
import os

import pytest
import torch

from aebnas.cli import main
from aebnas.engine.execution import EXECUTORS, create_executor
from aebnas.engine.execution.worker import run_job
from aebnas.engine.search import Search, TrialState
from aebnas.engine.search.strategies import BayesianOptimisation
from aebnas.exceptions import AebnasError
from tests.conftest import BACKBONE_EPOCHS, with_backbones

SMALL = dict(dataset="digits", budget=5, batch_size=2, n_init=4, epochs=2, backbone_epochs=BACKBONE_EPOCHS,
             strategy=BayesianOptimisation(pool_size=30), confirm_top=0, retries=1, device="cpu")
#: executors whose jobs run in worker processes (they take a ``function`` to run for each job)
WITH_WORKERS = [name for name in EXECUTORS.names() if "function" in inspect.signature(EXECUTORS.get(name)).parameters]


def die_after_training(job, *, crashes, folder):
    """Runs ``job``, then kills this worker process before the result is sent, the first
    ``crashes[job.number]`` times trial ``job.number`` runs (counted with files in ``folder``)."""
    outcome = run_job(job)
    done = len([p for p in os.listdir(folder) if p.startswith(f"{job.number}-")])
    if done < crashes.get(job.number, 0):
        open(os.path.join(folder, f"{job.number}-{done}"), "w").close()
        os._exit(1)
    return outcome


def new_search(path, digits, backbones, **settings):
    return Search(with_backbones(path, backbones), data=digits, **{**SMALL, **settings})


def executor_for(name, **options):
    return create_executor(name, workers=None if name == "local" else 2, **options)


@pytest.fixture
def one_thread():
    """torch with one thread here, as in each of two workers on two cores (float sums depend on it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_run(digits, digits_backbones, tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        search = new_search(tmp_path_factory.mktemp("local"), digits, digits_backbones)
        search.run()
    finally:
        torch.set_num_threads(threads)
    return search


def _same_results(search, local_run, numbers):
    """Trials of ``search`` whose architecture the local run trained too (the first batch, proposed before
    timing matters) have the same curve and accuracies: same seeds, deterministic CPU training."""
    local = {t.arch_id: t for t in local_run.trials(TrialState.COMPLETE)}
    common = [t for t in search.trials(TrialState.COMPLETE) if t.arch_id in local]
    assert numbers <= {t.number for t in common}
    for trial in common:
        assert trial.curve.to_dict() == local[trial.arch_id].curve.to_dict()
        assert trial.metrics.exit_accuracy_test == local[trial.arch_id].metrics.exit_accuracy_test


@pytest.mark.parametrize("name", EXECUTORS.names())
def test_a_search_matches_the_local_executor_and_resumes(name, digits, digits_backbones, local_run, one_thread,
                                                        tmp_path):
    search = new_search(tmp_path / "run", digits, digits_backbones)
    with executor_for(name) as executor:
        search.run(executor=executor)
        assert executor.capacity == (SMALL["batch_size"] if name == "local" else 2)
        trials = search.trials()
        assert len(trials) == SMALL["budget"] and all(t.state == TrialState.COMPLETE for t in trials)
        assert all((search.run_dir / t.outputs_path).is_file() for t in trials)
        _same_results(search, local_run, {1, 2})
        # rerunning with a larger budget resumes: stored trials stay as they are, one more is trained
        before = {t.number: (t.state, t.finished) for t in trials}
        search.close()
        resumed = new_search(tmp_path / "run", digits, digits_backbones, budget=SMALL["budget"] + 1)
        resumed.run(executor=executor)
    after = resumed.trials()
    assert {t.number: (t.state, t.finished) for t in after if t.number in before} == before
    assert len(after) == SMALL["budget"] + 1 and after[-1].state == TrialState.COMPLETE


@pytest.mark.parametrize("name, retries", [(name, 1 - i % 2) for i, name in enumerate(WITH_WORKERS)])
def test_a_dying_worker_loses_nothing(name, retries, digits, digits_backbones, local_run, tmp_path):
    (tmp_path / "crashes").mkdir()
    search = new_search(tmp_path / "run", digits, digits_backbones, retries=retries)
    # trial 1's worker dies once, after training it and before sending the result: the trial is retried
    # (retries=1) or failed (retries=0); every other trial completes at its first attempt
    crash = functools.partial(die_after_training, crashes={1: 1}, folder=str(tmp_path / "crashes"))
    with executor_for(name, function=crash) as executor:
        assert executor.asynchronous
        if name == "dask":  # Dask's default MALLOC_TRIM_THRESHOLD_ made worker training ~2x slower
            assert set(executor.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
        search.run(executor=executor)
    trials = {t.number: t for t in search.trials()}
    assert len(trials) == SMALL["budget"]  # a failed trial counts against the budget
    if retries:
        assert trials[1].state == TrialState.COMPLETE and trials[1].attempts == 2
    else:
        assert trials[1].state == TrialState.FAILED and trials[1].attempts == 1
        assert "KilledWorker" in trials[1].error or "BrokenProcessPool" in trials[1].error
    assert all(t.state == TrialState.COMPLETE and t.attempts == 1 for n, t in trials.items() if n != 1)
    assert {t.source for t in trials.values()} == {"init", "bo"}
    _same_results(search, local_run, {2} | ({1} if retries else set()))


@pytest.mark.parametrize("options, message", [
    (dict(name="threads"), "allowed: local, process, dask"),
    (dict(name="local", workers=2), "use --executor process or --executor dask"),
    (dict(name="process", scheduler="tcp://127.0.0.1:8786"), "for the dask executor"),
    (dict(name="dask", workers=2, scheduler="tcp://127.0.0.1:8786"), "not both"),
    (dict(name="process", workers=0), "needs >= 1 worker"),
    (dict(name="local", threads=3), "takes no option threads"),
])
def test_executor_options_are_checked(options, message):
    with pytest.raises(AebnasError, match=message):
        create_executor(**options)


def test_cli_rejects_bad_executor_options_before_opening_a_run(capsys, tmp_path):
    code = main(["search", "--run-dir", str(tmp_path / "run"), "--executor", "local", "--workers", "2"])
    assert code == 2 and "use --executor process or --executor dask" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
