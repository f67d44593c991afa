"""One trial's way through a worker: the job, the runner that keeps a search's data and backbone, the
per-process runner cache, and the outcome that carries everything computed (nothing is recomputed)."""

import dataclasses

import pytest
import torch

from aebnas.engine.evaluation import train_candidate
from aebnas.engine.execution import TrialJob, TrialRunner
from aebnas.engine.execution.worker import prepare_runner, release_runner, run_job
from aebnas.engine.search import SearchConfig
from tests.conftest import BACKBONE_EPOCHS, with_backbones

CONFIG = SearchConfig(dataset="digits", epochs=2, backbone_epochs=BACKBONE_EPOCHS, device="cpu")


@pytest.fixture(scope="module")
def space(digits):
    return CONFIG.make_space(digits.info)


@pytest.fixture(scope="module")
def runner(digits, digits_backbones, space, tmp_path_factory):
    run_dir = with_backbones(tmp_path_factory.mktemp("run"), digits_backbones)
    return TrialRunner(CONFIG.trial_settings(space), run_dir, data=digits)


def job_for(runner, arch, number=1, **settings):
    return TrialJob(number, arch, dataclasses.replace(runner.settings, **settings), str(runner.run_dir))


def test_the_outcome_carries_what_the_worker_computed(runner, space, digits):
    arch = space.sample(0)
    outcome = runner.run(job_for(runner, arch))
    expected = train_candidate(arch, digits, runner.settings.train, "fast", runner.backbone(), "margin")
    assert outcome.error is None and outcome.costs == space.costs(arch)
    assert outcome.curve.to_dict() == expected.curve.to_dict()
    assert torch.equal(outcome.outputs.test.logits, expected.outputs.test.logits)
    assert set(outcome.weights) == set(expected.model.branches.state_dict())  # fast mode: the branches only


def test_the_grid_curve_method_reaches_the_worker(runner, space):
    outcome = runner.run(job_for(runner, space.sample(1), curve_method="grid"))
    values = {v for row in outcome.curve.thresholds.tolist() for v in row}
    assert values <= {float(torch.tensor(0.1)), float(torch.tensor(0.2)), float("inf")}


def test_a_failed_training_is_an_outcome_with_its_error(runner, space):
    bad = dataclasses.replace(runner.settings.train, lr=1e30)
    outcome = runner.run(job_for(runner, space.sample(2), train=bad))
    assert outcome.outputs is None and "non-finite loss" in outcome.error


def test_shipped_resources_give_the_same_features_without_touching_the_run(runner, digits, space, tmp_path):
    resources = runner.resources()
    worker = TrialRunner(runner.settings, tmp_path / "elsewhere", resources=resources)
    assert worker.data is resources.data
    for split in ("train", "val", "test"):
        assert all(torch.equal(a, b) for a, b in zip(worker.backbone().features[split], runner.backbone().features[split]))
    assert not (tmp_path / "elsewhere").exists()  # a worker never writes to the run directory


def test_the_process_runner_cache_serves_each_search_once(runner, space):
    job = job_for(runner, space.sample(0))
    first = prepare_runner(job)
    try:
        assert prepare_runner(dataclasses.replace(job, number=7)) is first  # same search: same runner
        other = job_for(runner, space.sample(0), rule="entropy")
        assert prepare_runner(other) is not first
        release_runner(other)
        assert run_job(job).curve is not None
    finally:
        release_runner(job)
    assert prepare_runner(job) is not first
    release_runner(job)


def test_jobs_go_to_the_cpu_on_workers_unless_a_device_is_set(runner, space):
    auto = job_for(runner, space.sample(0)).settings.on_device("auto")
    job = TrialJob(1, space.sample(0), auto, str(runner.run_dir))
    assert job.on_worker_device().settings.device == "cpu" and job.on_worker_device().settings.backbone_train.device == "cpu"
    pinned = dataclasses.replace(job, settings=auto.on_device("cuda"))
    assert pinned.on_worker_device() is pinned
    assert runner.serves(job) and not runner.serves(dataclasses.replace(job, run_dir="/elsewhere"))
    assert not runner.serves(job_for(runner, space.sample(0), mode="joint"))
