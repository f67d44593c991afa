"""Building a benchmark table and reading it back: what it stores per architecture and training seed,
the noise subset, resumption, the file format and its damaged or foreign forms."""

import gzip
import json

import numpy as np
from scipy.stats import kendalltau
import pytest

from aebnas.engine.evaluation import CURVES, CandidateOutputs
from aebnas.engine.search import Search, SearchConfig, TrialState
from aebnas.engine.search.table_build import build_table
from aebnas.engine.search.table_stats import oracle_front, summarise, table_space
from aebnas.engine.tables import BenchmarkTable, load_table
from aebnas.exceptions import TableError
from aebnas.search_space import path_costs
from tests.conftest import with_backbones  # noqa: I001
from tests.conftest import SEEDS, SIZE, SUBSET, TINY_TABLE


def test_a_table_stores_every_architectures_curves_test_metrics_and_seeds(tiny_table, tiny_table_path):
    table = tiny_table
    assert len(table) == SIZE and len({e.arch_id for e in table.entries}) == SIZE
    assert [len(e.results) for e in table.entries] == [SEEDS] * SUBSET + [1] * (SIZE - SUBSET)
    assert table.settings["dataset"] == "digits" and table.settings["epochs"] == 2 and table.settings["seed"] == 0
    assert table.curve_methods == ["fine", "grid"] and table.build["seeds"] == SEEDS
    build = tiny_table_path.parent / "t.build"
    first = Search.open(build / "seed-0").trials(TrialState.COMPLETE)
    for entry, trial in zip(table.entries, first):  # table order = the build run's trial order
        assert entry.arch_id == trial.arch_id
        assert entry.path_macs == path_costs(entry.arch, (1, 8, 8), 10).paths
        result = entry.results[0]
        assert result.seed == 0 and result.curves["fine"].val == trial.curve
        assert result.exit_accuracy_val == trial.metrics.exit_accuracy_val
        outputs = CandidateOutputs.load(build / "seed-0" / trial.outputs_path)
        assert result.curves["grid"].val == CURVES.get("grid")(outputs.val, entry.path_macs, "margin")
        for curve in result.curves.values():  # every validation point measured on test with its thresholds
            for i, point in enumerate(curve.val.points()):
                test = point.apply(outputs.test, entry.path_macs)
                assert (curve.test_accuracy[i], curve.test_avg_macs[i]) == (test.accuracy, test.avg_macs)
    for entry in table.noise_entries:  # the other training seeds: same architecture, other branch weights
        assert [r.seed for r in entry.results] == [0, 1, 2]
        assert len({json.dumps(r.curves["fine"].val.to_dict()) for r in entry.results}) > 1
    assert tiny_table_path.stat().st_size < 60_000  # curves, not logits


def test_a_table_file_round_trips_and_rejects_damaged_or_foreign_files(tiny_table, tiny_table_path, tmp_path):
    again = load_table(tiny_table.save(tmp_path / "copy.json.gz"))
    assert again.to_dict() == tiny_table.to_dict()
    data = tiny_table.to_dict()
    cases = {
        "missing.json.gz": None,
        "garbage.json.gz": b"\x00not gzip at all",
        "not_json.json.gz": gzip.compress(b"{oops"),
        "foreign.json.gz": gzip.compress(json.dumps({"trials": []}).encode()),
        "version.json.gz": gzip.compress(json.dumps({**data, "version": 99}).encode()),
        "damaged.json.gz": gzip.compress(json.dumps({**data, "entries": [{"id": "x"}]}).encode()),
        "wrong_id.json.gz": gzip.compress(
            json.dumps({**data, "entries": [{**data["entries"][0], "id": "0" * 16}]}).encode()),
    }
    truncated = tiny_table_path.read_bytes()
    cases["truncated.json.gz"] = truncated[: len(truncated) // 2]
    messages = {"missing": "does not exist", "garbage": "not a readable benchmark table",
                "not_json": "not a readable benchmark table", "truncated": "not a readable benchmark table",
                "foreign": "is not an aebnas benchmark table", "version": "format version 99",
                "damaged": "damaged benchmark table", "wrong_id": "does not match its spec"}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(TableError, match=messages[name.split(".")[0]]):
            load_table(tmp_path / name)
    with pytest.raises(TableError, match="each architecture once"):
        BenchmarkTable(tiny_table.settings, tiny_table.space, tiny_table.entries[:2] * 2)


def test_building_resumes_and_a_larger_n_extends_the_table(digits_backbones, tmp_path):
    with_backbones(tmp_path / "t.build" / "seed-0", digits_backbones)
    config = SearchConfig(**TINY_TABLE)
    small = build_table(tmp_path / "t.json.gz", config, 4)
    store = tmp_path / "t.build" / "seed-0"
    finished = [t.finished for t in Search.open(store).trials()]
    larger = build_table(tmp_path / "t.json.gz", config, 6)
    trials = Search.open(store).trials()
    assert [t.finished for t in trials[:4]] == finished  # nothing trained again
    assert [e.arch_id for e in larger.entries[:4]] == [e.arch_id for e in small.entries] and len(larger) == 6
    assert load_table(tmp_path / "t.json.gz").to_dict() == larger.to_dict()


def test_table_show_summarises_spread_noise_and_the_oracle_front(tiny_table):
    summary = summarise(tiny_table)
    assert summary.size == SIZE and summary.noise_subset == SUBSET and summary.seeds == SEEDS
    assert summary.ref_macs == 304_768  # the digits backbone alone
    full = summary.spreads[-1]
    assert full.reachable == SIZE and full.quantiles[0] <= full.quantiles[2] <= full.quantiles[4]
    assert np.isfinite(full.noise_std) and full.noise_std >= 0
    trainings = np.array([[r.curves["fine"].val.accuracy_at(full.macs_budget) for r in e.results]
                          for e in tiny_table.noise_entries])  # SUBSET x SEEDS
    pairs = [kendalltau(trainings[:, a], trainings[:, b])[0] for a, b in ((0, 1), (0, 2), (1, 2))]
    assert full.seed_tau == pytest.approx(np.nanmean(pairs)) and -1 <= full.seed_tau <= 1
    front = oracle_front(tiny_table, 0, "fine", summary.ref_macs)
    assert 0 < summary.oracle_hv <= 0.9 and summary.oracle_front_size == len(front)
    assert len(summary.oracle_hv_seeds) == SEEDS and summary.oracle_hv_seeds[0] == summary.oracle_hv
    space = table_space(tiny_table)
    assert {a.id for a in space.sample_many(100, 0)} == {e.arch_id for e in tiny_table.entries}
