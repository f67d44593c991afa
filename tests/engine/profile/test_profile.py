"""Latency profiling: the parts enumerated cover every branch a space can sample, the table composes path
latency from them and round-trips through JSON, the composition error is measured, bad input is one line."""

import dataclasses

import pytest
import torch

from aebnas.cli import main
from aebnas.engine.profile import Timer, branch_parts, check_composition, profile_space
from aebnas.exceptions import AebnasError
from aebnas.search_space import PRESETS, SearchSpace
from aebnas.search_space.architecture import branch_shapes
from aebnas.search_space.latency import LATENCY_VERSION, LatencyTable, classifier_key, layer_key

QUICK = dict(repeats=3, number=2, warmup=1)


@pytest.mark.parametrize("preset", PRESETS.names())
def test_the_parts_cover_every_sampled_branch(preset):
    space = SearchSpace(preset, (1, 8, 8), 10)
    layers, classifiers = branch_parts(space)
    layer_keys, classifier_keys = {layer_key(*p) for p in layers}, {classifier_key(*c) for c in classifiers}
    for arch in space.sample_many(60, 0):
        for e in arch.exits:
            shape = space.stage_shapes[e.position - 1]
            inputs = [(shape[0], min(shape[1:]))] + branch_shapes(e.branch, shape)
            assert {layer_key(layer, c, s) for layer, (c, s) in zip(e.branch, inputs)} <= layer_keys
            assert classifier_key(*inputs[-1]) in classifier_keys


@pytest.fixture(scope="module")
def profiled():
    space = SearchSpace("edanas", (1, 8, 8), 10)
    timer = Timer(torch.device("cpu"), 1, **QUICK)
    table = profile_space(space, timer=timer)
    return space, dataclasses.replace(table, composition=check_composition(table, space, n=2, timer=timer))


def test_path_latency_is_the_sum_of_the_parts(profiled, tmp_path):
    space, table = profiled
    arch = space.sample(0)
    paths = table.path_costs(arch).paths
    assert len(paths) == arch.num_exits and all(a < b for a, b in zip(paths, paths[1:]))
    first = arch.exits[0]
    shape = space.stage_shapes[first.position - 1]
    (layer,) = first.branch
    out = branch_shapes(first.branch, shape)[0]
    expected = (sum(t.median_ms for t in table.stages[:first.position]) + table.exit_check.median_ms
                + table.layers[layer_key(layer, shape[0], min(shape[1:]))].median_ms
                + table.classifiers[classifier_key(*out)].median_ms)
    assert paths[0] == pytest.approx(expected)
    assert LatencyTable.load(table.save(tmp_path / "t.json")) == table


def test_the_composition_error_is_measured(profiled):
    space, table = profiled
    c = table.composition
    assert c.paths == sum(a.num_exits for a in space.sample_many(2, 0)) and 0 <= c.mean_abs_error <= c.max_abs_error


def test_a_table_of_another_space_or_version_is_refused(profiled, tmp_path):
    space, table = profiled
    other = SearchSpace("extended", (1, 8, 8), 10)
    with pytest.raises(AebnasError, match="profiled for another search space; profile this one with `aebnas profile`"):
        next(table.path_costs(a) for a in other.sample_many(20, 0) if a.exits[0].branch != space.preset.fixed_branch)
    path = table.save(tmp_path / "t.json")
    path.write_text(path.read_text().replace(f'"version": {LATENCY_VERSION}', '"version": 0'))
    with pytest.raises(AebnasError, match="has latency table version 0; this aebnas reads version 1"):
        LatencyTable.load(path)


def test_profile_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "lat.json"
    assert main(["profile", "--space", "edanas", "--check-paths", "1", "--quiet", "--out", str(out)]) == 0
    assert "summed parts vs" in capsys.readouterr().out and LatencyTable.load(out).batch == 1
    for argv, message in ((["--out", str(tmp_path)], "is a directory; give the table's file path"),
                          (["--space", "nope", "--out", str(out)], "unknown search-space preset 'nope'"),
                          (["--rule", "nope", "--out", str(out)], "unknown exit rule 'nope'")):
        assert main(["profile", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_a_torchscript_profile_times_traced_parts_and_whole_paths(tmp_path, capsys):
    out = tmp_path / "ts.json"
    assert main(["profile", "--space", "edanas", "--runtime", "torchscript", "--check-paths", "2", "--quiet",
                 "--out", str(out)]) == 0
    assert "torchscript on cpu" in capsys.readouterr().out
    table = LatencyTable.load(out)
    assert table.runtime == "torchscript" and table.composition.paths > 0
    eager = LatencyTable.from_dict({k: v for k, v in table.to_dict().items() if k != "runtime"})
    assert eager.runtime == "eager"  # a table written before runtimes were recorded was eager
    with pytest.raises(AebnasError, match="unknown runtime 'onnx'; allowed: eager, torchscript"):
        Timer(torch.device("cpu"), 1, runtime="onnx")
