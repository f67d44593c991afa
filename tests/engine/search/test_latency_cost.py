"""Latency as the cost axis: a search with a latency table stores, tunes, fronts and confirms in the table's
milliseconds (summed parts), resumes with the same cost, and reports the unit; MACs searches are unchanged."""

import pytest
import torch

from aebnas.cli import main
from aebnas.engine.profile import Timer, profile_space
from aebnas.engine.search import Search, SearchConfig, TrialState
from aebnas.engine.search.report import build_report, format_report, write_report
from aebnas.search_space import MACS, LatencyCost, SearchSpace
from aebnas.search_space.latency import LatencyTable
from aebnas.search_space.macs import path_costs
from tests.browser import CHROMIUM, Browser
from tests.conftest import BACKBONE_EPOCHS, with_backbones

SETTINGS = dict(dataset="digits", space="paper", budget=6, batch_size=2, n_init=4, epochs=2,
                backbone_epochs=BACKBONE_EPOCHS, confirm_top=1, confirm_epochs=1, device="cpu", cost="latency")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    table = profile_space(SearchSpace("paper", (1, 8, 8), 10), timer=Timer(torch.device("cpu"), 1, 3, 2, 1))
    return table.save(tmp_path_factory.mktemp("latency") / "digits-paper.json")


@pytest.fixture(scope="module")
def searched(digits, digits_backbones, table_path, tmp_path_factory):
    search = Search(with_backbones(tmp_path_factory.mktemp("run"), digits_backbones), data=digits,
                    latency_table=str(table_path), **SETTINGS)
    search.run()
    return search


def test_trials_cost_the_tables_summed_milliseconds(searched, table_path):
    table = LatencyTable.load(table_path)
    complete = searched.trials(TrialState.COMPLETE)
    assert len(complete) == SETTINGS["budget"]
    for trial in complete:
        assert trial.path_macs == pytest.approx(table.path_costs(trial.arch).paths)
        assert trial.path_macs[-1] < 1e3 < path_costs(trial.arch, (1, 8, 8), 10).paths[-1]  # ms, not MACs
        curve = trial.curve.avg_macs  # every tuned point's average latency lies between its cheapest and dearest path
        assert min(trial.path_macs) - 1e-9 <= curve.min() and curve.max() <= trial.path_macs[-1] + 1e-9
    assert searched.ref_macs == pytest.approx(sum(t.median_ms for t in table.stages) + table.head.median_ms)


def test_the_bo_proposals_are_priced_in_milliseconds(searched):
    proposed = [t for t in searched.trials(TrialState.COMPLETE) if t.source == "bo"]
    assert proposed
    for trial in proposed:  # a MACs budget is an average-latency budget here, within the reference
        assert min(trial.path_macs) - 1e-9 <= trial.macs_budget <= searched.ref_macs + 1e-9


def test_confirmation_measures_real_early_exit_in_milliseconds(searched, table_path):
    (confirmed,) = searched.store.confirmed().values()
    trial = searched.store.trial(confirmed.trial_number)
    assert confirmed.path_macs == pytest.approx(LatencyTable.load(table_path).path_costs(trial.arch).paths)
    assert confirmed.verified  # real early-exit inference spends the cached outputs' average latency
    assert confirmed.real_inference.avg_macs == pytest.approx(confirmed.test.avg_macs)


def test_a_resumed_run_keeps_its_cost_axis(searched):
    identity = searched.store.config
    assert identity["cost"] == "latency" and identity["latency_table"].endswith("digits-paper.json")
    reopened = SearchConfig.from_identity(identity)
    assert isinstance(reopened.make_space(searched.info).cost, LatencyCost)
    assert "cost" not in SearchConfig(dataset="digits").identity()  # a MACs run's identity is as before
    assert SearchConfig(dataset="digits").make_space(searched.info).cost == MACS


def test_the_report_labels_the_unit(searched):
    report = build_report(searched)
    assert report["cost_unit"] == "ms"
    text = format_report(report)
    assert "avg ms" in text and "MACs" not in text


def test_latency_search_from_the_command_line(digits_backbones, table_path, tmp_path, capsys):
    run_dir = with_backbones(tmp_path / "run", digits_backbones)
    table = LatencyTable.load(table_path)
    target = 0.8 * (sum(t.median_ms for t in table.stages) + table.head.median_ms)
    code = main(["search", "--run-dir", str(run_dir), "--dataset", "digits", "--space", "paper", "--budget", "4",
                 "--epochs", "1", "--backbone-epochs", str(BACKBONE_EPOCHS), "--confirm-top", "0", "--device", "cpu",
                 "--cost", "latency", "--latency-table", str(table_path), "--target-ms", str(target), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"reference {target:.4f} ms" in out
    search = Search.open(run_dir)
    assert search.front() and all(p.avg_macs <= target for p in search.front())
    search.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_the_html_report_draws_milliseconds(searched):
    pytest.importorskip("websocket", reason="websocket-client (the test extra) drives Chromium")
    _, out = write_report(searched)
    with Browser() as browser:
        browser.open(out / "report.html")
        assert browser.errors == []
        axis = browser.eval("document.getElementById('front-plot')._fullLayout.xaxis.title.text")
        assert axis == "average ms (log scale)"
        summary = browser.eval("document.getElementById('summary').textContent")
        reference = browser.eval(f"({searched.ref_macs!r}).toPrecision(4)")  # as the page writes it
        assert f"reference {reference} ms" in summary and "MACs" not in summary


def test_an_export_of_a_latency_run_carries_its_path_latency(searched, table_path, tmp_path):
    pytest.importorskip("onnxruntime")
    from aebnas.engine.export import export_run

    ((arch_id, confirmed),) = searched.store.confirmed().items()
    arch = searched.store.trial(confirmed.trial_number).arch
    manifest = export_run(searched.run_dir, "onnx", tmp_path / "deploy", confirmed=arch_id)
    assert manifest.latency.paths_ms == pytest.approx(LatencyTable.load(table_path).path_costs(arch).paths)
    assert manifest.path_macs == path_costs(arch, (1, 8, 8), 10).paths  # the manifest's MACs stay MACs
