"""Export: a run's network as ONNX / TorchScript segments whose runtime gives exactly the predictions and
exits of ``EarlyExitNet.infer``, for every format and exit rule; bad input to ``export`` is one clear line."""

import importlib.util
import json

import numpy as np
import onnx
import pytest
import torch

from aebnas.cli import main
from aebnas.datasets import DATASETS, DatasetInfo, DatasetSplits, Split
from aebnas.engine.evaluation import tradeoff_curve
from aebnas.engine.evaluation.training import full_outputs
from aebnas.engine.export import WRITERS, export_network, export_run
from aebnas.engine.search import Search
from aebnas.exceptions import AebnasError
from aebnas.exit_rules import EXIT_RULES, confidence
from aebnas.runtime import Manifest, list_formats, load_runtime
from aebnas.engine.profile import branch_parts
from aebnas.search_space import BACKBONES, LAYER_TYPES, Architecture, ExitSpec, SearchSpace, build, path_costs
from aebnas.search_space.latency import LatencyTable, Timing, classifier_key, layer_key


@pytest.fixture(scope="module")
def network(confirmed_run, digits):
    """The confirmed network of the run, with its architecture and path costs."""
    with Search.open(confirmed_run, data=digits) as search:
        confirmed = next(iter(search.store.confirmed().values()))
        arch = search.store.trial(confirmed.trial_number).arch
    model = build(arch, digits.info)
    model.load_state_dict(torch.load(confirmed_run / confirmed.checkpoint, weights_only=True))
    return model.eval(), arch, path_costs(arch, digits.info.input_shape, digits.info.num_classes)


def test_every_runtime_format_has_a_writer():
    assert set(WRITERS.names()) == set(list_formats())


@pytest.mark.parametrize("rule", EXIT_RULES.names())
@pytest.mark.parametrize("fmt", list_formats())
def test_runtime_equals_infer_on_the_digits_test_set(network, digits, fmt, rule, tmp_path):
    model, arch, costs = network
    curve = tradeoff_curve(full_outputs(model, digits, "cpu").val, costs.paths, rule)
    thresholds = curve.point(len(curve) // 2).thresholds  # a middle point: samples leave at several exits
    manifest = export_network(model, arch, thresholds.tolist(), rule, digits, fmt, tmp_path / "out")
    raw = DATASETS.get("digits").read({}).x_test  # the test images as stored: the runtime normalises them
    result = load_runtime(tmp_path / "out", threads=1).run(raw)
    predictions, exits = model.infer(digits.test.x, thresholds, rule)
    assert np.array_equal(result.predictions, predictions.numpy())
    assert np.array_equal(result.exits, exits.numpy())
    assert len(np.unique(result.exits)) >= 2
    assert np.array_equal(result.macs, np.asarray(costs.paths)[result.exits])
    accuracy = (predictions == digits.test.y).double().mean().item()
    assert manifest.test.agrees and manifest.test.accuracy == pytest.approx(accuracy)


#: library backbones with an input adapter (resize) and residual blocks, channel shuffle, squeeze-excitation
#: (timm's only where the optional extra is installed)
LIBRARY = ["torchvision:resnet18", "torchvision:shufflenet_v2_x0_5",
           pytest.param("timm:mobilenetv3_small_050", marks=pytest.mark.skipif(
               importlib.util.find_spec("timm") is None, reason="timm backbones need the extra aebnas[timm]"))]


def _threshold_in_the_widest_gap(scores: torch.Tensor) -> float:
    """A threshold between two of the middle half of ``scores`` (shape ``(n,)``), in the widest gap there: no
    image sits within a rounding error of it, so float rounding of another runtime cannot move an image."""
    ordered = scores.sort().values[len(scores) // 4: 3 * len(scores) // 4 + 1]
    widest = int(ordered.diff().argmax())
    return float(ordered[widest: widest + 2].mean())


@pytest.mark.parametrize("fmt", list_formats())
@pytest.mark.parametrize("backbone", [*(b for b in BACKBONES.names() if not b.startswith("torchvision:")), *LIBRARY])
def test_every_backbone_and_layer_type_exports(backbone, fmt, tmp_path):
    """An untrained network with one exit holding every layer type, about half the images leaving there."""
    shape = (1, 8, 8) if backbone == "digits_cnn" else (3, 16, 16)
    options = {"resolution": 32} if ":" in backbone else {}
    info = DatasetInfo("synthetic", 10, shape)
    torch.manual_seed(0)
    split = Split(torch.randn(32, *shape), torch.randint(10, (32,)))
    data = DatasetSplits(info, split, split, split, (0.5,) * shape[0], (2.0,) * shape[0])
    arch = Architecture(backbone, (ExitSpec(1, tuple(LAYER_TYPES.get(t)() for t in LAYER_TYPES.names())),),
                        options)
    model = build(arch, info).eval()
    with torch.no_grad():
        scores = confidence(model(split.x)[:, 0].softmax(dim=-1), "max_softmax")
    threshold = _threshold_in_the_widest_gap(scores)
    manifest = export_network(model, arch, [threshold], "max_softmax", data, fmt, tmp_path / "out")
    assert manifest.test.agrees and 0 < manifest.test.exit_fractions[0] < 1


def test_export_of_a_run_writes_checked_segments_and_a_manifest(onnx_export, confirmed_run, digits):
    manifest = Manifest.load(onnx_export)
    with Search.open(confirmed_run, data=digits) as search:
        confirmed = next(iter(search.store.confirmed().values()))
    assert manifest.arch_id == confirmed.arch_id == Architecture.from_dict(manifest.architecture).id
    assert manifest.thresholds == tuple(confirmed.val.thresholds.tolist())
    assert manifest.path_macs == confirmed.path_macs
    assert manifest.test.accuracy == pytest.approx(confirmed.test.accuracy)  # the run's test metrics, from the export
    assert manifest.test.avg_macs == pytest.approx(confirmed.test.avg_macs)
    assert manifest.mean == digits.mean and manifest.std == digits.std
    assert [s.kind for s in manifest.segments][-1] == "head"
    for segment in manifest.segments:  # a valid ONNX model with a dynamic batch size
        model = onnx.load(onnx_export / segment.file)
        onnx.checker.check_model(model, full_check=True)
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert Manifest.from_dict(json.loads((onnx_export / "manifest.json").read_text())) == manifest


def test_a_new_target_retunes_the_thresholds(confirmed_run, tmp_path):
    cheap = export_run(confirmed_run, "torchscript", tmp_path / "cheap", target_macs=1e-9 + _cheapest(confirmed_run))
    assert cheap.test.avg_macs <= Manifest.load(tmp_path / "cheap").path_macs[-1]
    assert cheap.test.exit_fractions[0] > 0.5


def test_a_searched_trial_exports_with_the_frozen_backbone(confirmed_run, tmp_path):
    with Search.open(confirmed_run) as search:
        trial = search.trials()[0]
        expected = trial.curve.point_at(max(trial.macs_budget, trial.curve.avg_macs[0].item()))
    manifest = export_run(confirmed_run, "torchscript", tmp_path / "trial", arch_id=trial.arch_id)
    assert manifest.source.startswith(f"trial {trial.number} ({trial.arch_id})") and manifest.test.agrees
    assert manifest.thresholds == tuple(expected.thresholds.tolist())


def _cheapest(run_dir):
    with Search.open(run_dir) as search:
        return min(c.val_curve.avg_macs[0].item() for c in search.store.confirmed().values())


def test_export_and_predict_from_the_command_line(confirmed_run, tmp_path, capsys):
    out = tmp_path / "ts"
    assert main(["export", str(confirmed_run), "--format", "torchscript", "--out", str(out)]) == 0
    assert "equal EarlyExitNet.infer: yes" in capsys.readouterr().out
    images = DATASETS.get("digits").read({}).x_test[:7]
    np.save(tmp_path / "x.npy", images)
    assert main(["predict", str(out), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "index,prediction,exit,macs" and len(rows) == 8
    expected = load_runtime(out).run(images)
    assert [int(r.split(",")[1]) for r in rows[1:]] == expected.predictions.tolist()
    torch.save(torch.from_numpy(images), tmp_path / "x.pt")  # a torch tensor file gives the same
    assert main(["predict", str(out), str(tmp_path / "x.pt"), "--out", str(tmp_path / "q.csv")]) == 0
    assert (tmp_path / "q.csv").read_text() == (tmp_path / "p.csv").read_text()


@pytest.mark.parametrize("args, message", [
    (["--arch", "0123456789abcdef"], "has no complete trial of architecture '0123456789abcdef'"),
    (["--confirmed", "nope"], "has no confirmed candidate 'nope'; allowed: best, "),
    (["--format", "tflite"], "invalid choice: 'tflite'"),
    (["--target-macs", "1k"], "below the cheapest validation point of every confirmed candidate"),
    (["--arch", "x", "--confirmed", "best"], "not allowed with argument"),
    (["--latency-table", "missing.json"], "no such latency table: missing.json; make one with `aebnas profile"),
])
def test_bad_export_arguments_are_one_line(confirmed_run, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["export", str(confirmed_run), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_export_directories_and_runs_are_one_line(confirmed_run, digits, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["export", str(confirmed_run), "--out", str(busy)]) == 2
    assert "exists and holds 1 other entries (notes.txt); give a new or empty directory" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no aebnas run" in capsys.readouterr().err
    unconfirmed = tmp_path / "unconfirmed"  # a run whose search confirmed nothing
    Search(unconfirmed, data=digits, dataset="digits", confirm_top=0).close()  # a stored run, nothing confirmed
    assert main(["export", str(unconfirmed), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has no confirmed candidate; confirm the best by rerunning its `aebnas search` command with --confirm-top" \
        in err
    assert not (tmp_path / "o").exists()


def test_a_latency_table_gives_path_and_per_image_latency(network, digits, tmp_path):
    model, arch, _ = network
    space = SearchSpace.for_dataset(digits.info)
    layers, classifiers = branch_parts(space)
    ms = Timing(1.0, 0.0)  # every part 1 ms: a path's latency counts its parts
    table = LatencyTable(space.backbone, space.backbone_options, space.input_shape, space.num_classes, "cpu", 1,
                         "margin", (ms,) * len(space.stage_shapes), ms, {layer_key(*p): ms for p in layers},
                         {classifier_key(*c): ms for c in classifiers}, ms)
    thresholds = [0.5] * len(arch.exits)
    manifest = export_network(model, arch, thresholds, "margin", digits, "torchscript", tmp_path / "o",
                              latency_table=table)
    first = arch.exits[0]
    # stages, exit check, layers, classifier
    assert manifest.latency.paths_ms[0] == first.position + 1 + len(first.branch) + 1
    result = load_runtime(tmp_path / "o").run(digits.test.x.numpy(), normalised=True)
    assert np.array_equal(result.latency_ms, np.asarray(manifest.latency.paths_ms)[result.exits])
    with pytest.raises(AebnasError, match="and the margin exit rule; this network has 1x8x8, 10 and entropy"):
        export_network(model, arch, thresholds, "entropy", digits, "torchscript", tmp_path / "p", latency_table=table)


def test_thresholds_must_match_the_exits(network, digits, tmp_path):
    model, arch, _ = network
    with pytest.raises(AebnasError, match=f"has {len(arch.exits)} early exits; got 7 thresholds"):
        export_network(model, arch, [0.5] * 7, "margin", digits, "onnx", tmp_path / "o")
