"""The runtime: real early exit from a manifest, chunked batches, one clear line for bad exports and inputs,
and an ONNX deployment that loads no torch."""

import json

import numpy as np
import pytest

from aebnas.cli import main
from aebnas.exceptions import AebnasError
from aebnas.runtime import MANIFEST_FILE, Manifest, ManifestError, load_runtime
from tests.test_imports import loaded_after


@pytest.fixture()
def images(digits):
    from aebnas.datasets import DATASETS

    return DATASETS.get("digits").read({}).x_test


def test_batches_give_the_same_answers_as_one_batch(onnx_export, images):
    runtime = load_runtime(onnx_export, threads=1)
    whole = runtime.run(images)
    for batch_size in (1, 7):
        part = runtime.run(images[:50], batch_size=batch_size)
        assert np.array_equal(part.predictions, whole.predictions[:50]) and np.array_equal(part.exits, whole.exits[:50])
    assert len(runtime.run(images[:0]).predictions) == 0
    assert whole.exit_fractions(runtime.manifest.num_exits).sum() == pytest.approx(1.0)


def test_normalised_inputs_skip_the_normalisation(onnx_export, images, digits):
    runtime = load_runtime(onnx_export, threads=1)
    raw, normalised = runtime.run(images), runtime.run(digits.test.x.numpy(), normalised=True)
    assert np.array_equal(raw.predictions, normalised.predictions) and np.array_equal(raw.exits, normalised.exits)


def test_predict_on_an_onnx_export_loads_no_torch(onnx_export, images, tmp_path):
    np.save(tmp_path / "x.npy", images[:5])
    argv = ["predict", str(onnx_export), str(tmp_path / "x.npy")]
    code = f"from aebnas.cli import main\nassert main({argv!r}) == 0"
    loaded = loaded_after(code)
    assert "onnxruntime" in loaded and not loaded & {"torch", "torchvision", "botorch", "xgboost"}


@pytest.mark.parametrize("shape", [(3, 1, 8, 9), (3, 8, 8), (3, 3, 8, 8)])
def test_inputs_of_another_shape_are_refused(onnx_export, shape):
    with pytest.raises(AebnasError, match=r"inputs must be a real array of shape n x 1 x 8 x 8 \(a batch of digits "
                                          rf"images\); got an array of shape \({', '.join(map(str, shape))}"):
        load_runtime(onnx_export).run(np.zeros(shape, np.float32))


def _edited_copy(export, tmp_path, **changes):
    """A copy of ``export`` whose manifest has ``changes``."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in export.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    data = json.loads((copy / MANIFEST_FILE).read_text())
    (copy / MANIFEST_FILE).write_text(json.dumps({**data, **changes}))
    return copy


@pytest.mark.parametrize("changes, message", [
    ({"version": 99}, "has export manifest version 99 (aebnas 0.1.0); this aebnas reads version 1: export the network again"),
    ({"format_name": "other"}, "is not an aebnas export manifest"),
    ({"thresholds": [0.5]}, "do not fit together"),
    ({"format": "tflite"}, "unknown export format 'tflite'; allowed: onnx, torchscript"),
    ({"segments": [{"kind": "head"}]}, "is damaged (KeyError"),
])
def test_bad_manifests_are_one_line(onnx_export, tmp_path, changes, message):
    with pytest.raises(AebnasError) as err:
        load_runtime(_edited_copy(onnx_export, tmp_path, **changes))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_predict_input_is_one_line(onnx_export, tmp_path, capsys):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 8, 8)))
    (tmp_path / "x.txt").write_text("1 2 3")
    (tmp_path / "bad.npy").write_text("not numpy")
    cases = [
        ([str(tmp_path), str(tmp_path / "wrong.npy")], "holds no exported network (no manifest.json)"),
        ([str(onnx_export), str(tmp_path / "wrong.npy")], "inputs must be a real array of shape n x 1 x 8 x 8"),
        ([str(onnx_export), str(tmp_path / "x.txt")], "must be .npy (a NumPy array) or .pt (a torch tensor)"),
        ([str(onnx_export), str(tmp_path / "none.npy")], "no such images file"),
        ([str(onnx_export), str(tmp_path / "bad.npy")], "cannot be read as .npy"),
    ]
    for argv, message in cases:
        assert main(["predict", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_missing_segment_files_are_named(onnx_export, tmp_path):
    copy = _edited_copy(onnx_export, tmp_path)
    first = Manifest.load(copy).segments[0].file
    (copy / first).unlink()
    with pytest.raises(ManifestError, match=f"misses segment file\\(s\\) {first}"):
        load_runtime(copy)
