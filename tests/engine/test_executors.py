"""Executors with two workers (a process pool, a Dask LocalCluster): a small search completes, a worker
dying mid-trial loses nothing, a rerun resumes, and results equal the in-process executor's."""

import functools
import os
import shutil

import pytest
import torch

from aebnas.cli import main
from aebnas.datasets import load_dataset
from aebnas.engine.executors import EXECUTORS, DaskExecutor, LocalExecutor, ProcessExecutor, create_executor
from aebnas.engine.search import Search
from aebnas.engine.store import TrialState
from aebnas.engine.worker import run_job
from aebnas.exceptions import AebnasError

SMALL = dict(dataset="digits", budget=5, batch_size=2, n_init=4, epochs=2, backbone_epochs=2, pool_size=30,
             confirm_top=0, retries=1, device="cpu")


def die_after_training(job, *, crashes, folder):
    """Runs ``job``, then kills this worker process before the result is sent, the first
    ``crashes[job.number]`` times trial ``job.number`` runs (counted with files in ``folder``)."""
    outcome = run_job(job)
    done = len([p for p in os.listdir(folder) if p.startswith(f"{job.number}-")])
    if done < crashes.get(job.number, 0):
        open(os.path.join(folder, f"{job.number}-{done}"), "w").close()
        os._exit(1)
    return outcome


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def backbones(digits, tmp_path_factory):
    """The run's frozen backbone, trained once and copied into each run directory: every executor then
    loads the same weights (a freshly trained backbone keeps channels_last weights, whose stage
    features differ from the loaded ones' in the last bits)."""
    run = tmp_path_factory.mktemp("backbone")
    Search(run, data=digits, **SMALL).backbone
    return run / "backbones"


def new_search(path, digits, backbones, **settings):
    if not (path / "backbones").exists():
        shutil.copytree(backbones, path / "backbones")
    return Search(path, data=digits, **{**SMALL, **settings})


@pytest.fixture(scope="module")
def local_run(digits, backbones, tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of two workers on two cores
    try:
        search = new_search(tmp_path_factory.mktemp("local"), digits, backbones)
        search.run()
    finally:
        torch.set_num_threads(threads)
    return search


def test_every_executor_is_registered():
    assert set(EXECUTORS.names()) >= {"local", "process", "dask"}
    assert EXECUTORS.get("process") is ProcessExecutor and EXECUTORS.get("dask") is DaskExecutor


@pytest.mark.parametrize("name, retries", [("process", 1), ("dask", 0)])
def test_two_workers_survive_a_dying_worker_and_match_the_local_executor(name, retries, digits, backbones,
                                                                         local_run, tmp_path):
    (tmp_path / "crashes").mkdir()
    search = new_search(tmp_path / "run", digits, backbones, retries=retries)
    executor = create_executor(name, search, workers=2)
    # trial 1's worker dies once, after training it and before sending the result: the trial is retried
    # (retries=1) or failed (retries=0); every other trial completes at its first attempt
    executor.function = functools.partial(die_after_training, crashes={1: 1}, folder=str(tmp_path / "crashes"))
    try:
        assert executor.capacity == 2 and executor.asynchronous
        if name == "dask":  # Dask's default MALLOC_TRIM_THRESHOLD_ made worker training ~2x slower
            assert set(executor.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
        search.run(executor=executor)
        trials = {t.number: t for t in search.trials()}
        assert len(trials) == SMALL["budget"]  # a failed trial counts against the budget
        if retries:
            assert trials[1].state == TrialState.COMPLETE and trials[1].attempts == 2
        else:
            assert trials[1].state == TrialState.FAILED and trials[1].attempts == 1
            assert "KilledWorker" in trials[1].error
        assert all(t.state == TrialState.COMPLETE and t.attempts == 1 for n, t in trials.items() if n != 1)
        assert {t.source for t in trials.values()} == {"init", "bo"}
        assert all((search.run_dir / t.outputs_path).is_file() for t in search.trials(TrialState.COMPLETE))

        # same seeds, deterministic CPU training: an architecture the local run trained too (the first
        # batch, proposed before timing matters) has the same curve and accuracies, retried or not
        local = {t.arch_id: t for t in local_run.trials(TrialState.COMPLETE)}
        common = [t for t in search.trials(TrialState.COMPLETE) if t.arch_id in local]
        assert {2} | ({1} if retries else set()) <= {t.number for t in common}
        for trial in common:
            assert trial.curve == local[trial.arch_id].curve
            assert trial.metrics["exit_accuracy_test"] == local[trial.arch_id].metrics["exit_accuracy_test"]

        # rerunning with a larger budget resumes: stored trials stay as they are, one more is trained
        before = {t.number: (t.state, t.finished) for t in search.trials()}
        search.store.close()
        resumed = new_search(tmp_path / "run", digits, backbones, retries=retries, budget=SMALL["budget"] + 1)
        resumed.run(executor=executor)
    finally:
        executor.close()
    after = resumed.trials()
    assert {t.number: (t.state, t.finished) for t in after if t.number in before} == before
    assert len(after) == SMALL["budget"] + 1 and after[-1].state == TrialState.COMPLETE


def test_executor_options_are_checked(digits, tmp_path):
    search = Search(tmp_path, data=digits, **SMALL)
    assert isinstance(create_executor("local", search), LocalExecutor)
    for kwargs, message in [
        (dict(name="threads"), "allowed: local, process, dask"),
        (dict(name="local", workers=2), "use --executor process or --executor dask"),
        (dict(name="process", scheduler="tcp://127.0.0.1:8786"), "for the dask executor"),
        (dict(name="dask", workers=2, scheduler="tcp://127.0.0.1:8786"), "not both"),
        (dict(name="process", workers=0), "workers must be >= 1"),
    ]:
        with pytest.raises(AebnasError, match=message):
            create_executor(search=search, **kwargs)


def test_cli_rejects_bad_executor_options_before_opening_a_run(capsys, tmp_path):
    code = main(["search", "--run-dir", str(tmp_path / "run"), "--executor", "local", "--workers", "2"])
    assert code == 2 and "use --executor process or --executor dask" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
