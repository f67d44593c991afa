"""The run report of a finished search: what report.json and the CSV files hold agrees with the search, and
the plots are real PNG images of the data."""

import csv
import json

import matplotlib.image
import pytest

from aebnas.engine.search import Search, TrialState
from aebnas.engine.search.report import format_report, write_report
from aebnas.engine.search.strategies import BayesianOptimisation
from tests.conftest import BACKBONE_EPOCHS, with_backbones


@pytest.fixture(scope="module")
def report(digits, digits_backbones, tmp_path_factory):
    search = Search(with_backbones(tmp_path_factory.mktemp("run"), digits_backbones), data=digits, dataset="digits",
                    budget=5, batch_size=2, n_init=3, epochs=2, backbone_epochs=BACKBONE_EPOCHS, confirm_top=1,
                    confirm_epochs=1, strategy=BayesianOptimisation(pool_size=20), device="cpu")
    search.run()
    data, out = write_report(search)
    return search, data, out


def test_report_json_agrees_with_the_search(report):
    search, data, out = report
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(data))
    assert data["trials"] == {"pending": 0, "running": 0, "complete": 5, "failed": 0}
    assert data["hypervolume"] == pytest.approx(search.hypervolume())
    assert data["hypervolume_trace"][-1] == pytest.approx(search.hypervolume())
    assert all(a <= b + 1e-12 for a, b in zip(data["hypervolume_trace"], data["hypervolume_trace"][1:]))
    assert [p["trial"] for p in data["front"]] == [p.trial_number for p in search.front()]
    confirmed = search.store.confirmed()
    assert data["confirmed"] == {k: c.to_dict() for k, c in confirmed.items()} and len(confirmed) == 1
    assert data["config"]["strategy"] == {"name": "bo", **BayesianOptimisation(pool_size=20).get_params()}


def test_csv_files_hold_every_trial_and_front_point(report):
    search, data, out = report
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows] == [t.number for t in search.trials()]
    for row, trial in zip(rows, search.trials(TrialState.COMPLETE)):
        assert float(row["macs_budget"]) == pytest.approx(trial.macs_budget)
        assert float(row["accuracy_at_macs_budget"]) == pytest.approx(trial.metrics.accuracy_at_macs_budget)
        assert (row["predicted_mean"] != "") == (trial.predicted is not None)
    with open(out / "front.csv") as f:
        front = list(csv.DictReader(f))
    assert [float(r["avg_macs"]) for r in front] == pytest.approx([p["avg_macs"] for p in data["front"]])


def test_plots_are_images_and_the_text_summary_lists_the_front(report):
    search, data, out = report
    for name in ("front.png", "hypervolume.png", "predicted_vs_measured.png"):
        image = matplotlib.image.imread(out / name)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0  # drawn, not blank
    text = format_report(data)
    assert f"hypervolume {data['hypervolume']:.4f}" in text
    for point in data["front"]:
        assert point["arch_id"] in text
    assert next(iter(data["confirmed"])) in text.split("confirmed")[1]
