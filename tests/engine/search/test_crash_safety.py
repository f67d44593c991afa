"""Crash safety and ownership of a run directory.

A search killed with SIGKILL inside a trial's training, inside a store write, inside a proposal or
inside confirmation, then resumed, ends bit-identical to an uninterrupted run: the same trials, metrics,
curves, predictions, front and confirmed designs. And a run directory has one owner at a time."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aebnas.cli import main
from aebnas.engine.search import Search, TrialState
from aebnas.engine.search.owner import RunBusyError
from tests.conftest import BACKBONE_EPOCHS

SETTINGS = dict(dataset="digits", budget=6, batch_size=2, n_init=4, epochs=3, backbone_epochs=BACKBONE_EPOCHS,
                confirm_top=2, confirm_epochs=1, device="cpu")
KILLED = Path(__file__).with_name("_killed_search.py")


def _results(search: Search) -> dict:
    """Everything a run found, without timings and attempt counts."""
    trials = search.trials()
    confirmed = {arch_id: {k: v for k, v in c.to_dict().items() if k not in ("train_seconds",)}
                 for arch_id, c in search.store.confirmed().items()}
    return {
        "trials": [(t.number, t.arch_id, t.state, t.source, t.macs_budget, t.predicted, t.path_macs) for t in trials],
        "metrics": [t.metrics for t in trials],
        "curves": [t.curve.to_dict() if t.curve else None for t in trials],
        "front": [p.to_dict() for p in search.front()],
        "confirmed": confirmed,
    }


def _run_dir(tmp_path: Path, reference_dir: Path) -> Path:
    """A new run directory sharing the reference run's cached backbone."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "backbones").symlink_to(reference_dir / "backbones")
    return run_dir


def _cli_search(run_dir: Path, budget: int) -> list[str]:
    return ["search", "--run-dir", str(run_dir), "--budget", str(budget), "--batch-size", "2", "--n-init", "2",
            "--epochs", "2", "--backbone-epochs", str(BACKBONE_EPOCHS), "--confirm-top", "0", "--quiet",
            "--device", "cpu"]


def _search_process(run_dir: Path, kill_point: str = "none") -> subprocess.CompletedProcess:
    """Runs the search in ``run_dir`` in a fresh process, killed at ``kill_point`` (or run to the end)."""
    return subprocess.run([sys.executable, str(KILLED), kill_point, str(run_dir), json.dumps(SETTINGS)],
                          capture_output=True, text=True, timeout=600)


def _stored_results(run_dir: Path) -> dict:
    search = Search.open(run_dir)
    try:
        return _results(search)
    finally:
        search.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same search run once without interruption (its backbone trained fresh)."""
    run_dir = tmp_path_factory.mktemp("reference")
    finished = _search_process(run_dir)
    assert finished.returncode == 0, finished.stderr[-2000:]
    results = _stored_results(run_dir)
    assert len([t for t in results["trials"] if t[2] == TrialState.COMPLETE]) == SETTINGS["budget"]
    assert len(results["confirmed"]) == 2
    return run_dir, results


@pytest.mark.parametrize("kill_point", ["training:250", "store:5", "store:7", "proposal:1", "confirmation:2"])
def test_a_killed_search_resumes_to_the_uninterrupted_result(uninterrupted, tmp_path, kill_point):
    reference_dir, expected = uninterrupted
    run_dir = _run_dir(tmp_path, reference_dir)  # its backbone loaded, where the reference trained it
    killed = _search_process(run_dir, kill_point)
    assert killed.returncode == -9, killed.stderr[-2000:]  # it died at the kill point, by SIGKILL
    resumed = _search_process(run_dir)  # the same search again: it resumes
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _stored_results(run_dir) == expected


def test_one_owner_per_run_directory_in_either_order(tmp_path):
    for first, second in ((0, 1), (1, 0)):
        run_dir = tmp_path / f"run{first}"
        Search(run_dir, **{**SETTINGS, "budget": 2, "n_init": 2, "confirm_top": 0}).close()  # the run exists
        searches = [Search(run_dir, **{**SETTINGS, "budget": 2, "n_init": 2, "confirm_top": 0}) for _ in range(2)]
        searches[first].ask(1)  # the first to write owns the run
        with pytest.raises(RunBusyError, match=r"is in use by process \d+ on "):
            searches[second].ask(1)
        searches[first].close()
        assert searches[second].ask(1)  # once the owner is done, another process may go on
        searches[second].close()
        assert len(Search.open(run_dir).trials()) == 2


def test_a_second_cli_search_on_a_running_run_is_refused_and_changes_nothing(uninterrupted, tmp_path, capsys):
    run_dir = _run_dir(tmp_path, uninterrupted[0])
    argv = _cli_search(run_dir, budget=4)
    first = subprocess.Popen([sys.executable, "-m", "aebnas.cli", *argv], stderr=subprocess.PIPE, text=True)
    try:
        stderr = first.stderr.readline()  # printed once the search owns the run and starts
        assert "search in" in stderr
        before = sorted(p.name for p in run_dir.rglob("*"))
        for extra in ([], ["--new"]):  # neither resuming nor starting afresh is allowed while it runs
            assert main(argv + extra) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and f"in use by process {first.pid}" in err[0]
        assert (run_dir / "store.sqlite").is_file() and not list(run_dir.glob("store.sqlite.*.old"))
        assert set(before) <= {p.name for p in run_dir.rglob("*")}
    finally:
        assert first.wait(timeout=600) == 0
    assert main(argv) == 0  # after it ended, the same command resumes (here: finds the run complete)
    assert "4 trials stored" in capsys.readouterr().err


@pytest.mark.parametrize("when", ["start-up", "search"])
def test_ctrl_c_prints_one_line_saying_what_is_kept(uninterrupted, tmp_path, when):
    # a budget that keeps the run busy past the signal (on cached backbones 6 trials and the report can end
    # within the second)
    argv = _cli_search(_run_dir(tmp_path, uninterrupted[0]), budget=30)
    # the child starts with Ctrl-C's default disposition: a suite started in the background by a
    # non-interactive shell (`pytest &`, CI) ignores SIGINT, a child inherits that, and Python then
    # installs no KeyboardInterrupt handler (no test changes it: checked at the OS level after each test)
    search = subprocess.Popen([sys.executable, "-m", "aebnas.cli", *argv], stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if when == "search":
        assert "search in" in search.stderr.readline()
        time.sleep(1)  # inside the first trials
    else:
        time.sleep(0.5)  # importing torch and the engine
    search.send_signal(signal.SIGINT)
    _, err = search.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line and not line.startswith("search in")]
    assert search.returncode == 130 and "Traceback" not in err, err
    kept = "every finished trial is stored in " if when == "search" else ""  # at start-up: whichever was reached
    assert len(lines) == 1 and lines[0].startswith(f"aebnas: interrupted; {kept}")
