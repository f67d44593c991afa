"""`aebnas backbones`, and a search (and `train`) on a torchvision or timm backbone with a weights file,
through the real CLI."""

import importlib.util
import json

import pytest
import torch
from torchvision import models

from aebnas.cli import main
from aebnas.search_space import BACKBONES

TIMM = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm is not installed (pip install -e '.[test]')")


def test_backbones_lists_every_backbone_with_positions_shapes_and_macs(capsys):
    assert main(["backbones", "--dataset", "fashion_mnist", "--resolution", "32", "digits_cnn", "resnet",
                 "torchvision:mobilenet_v3_small"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist (1x28x28, 10 classes)" in out
    assert "needs inputs of at least" not in out.split("torchvision:mobilenet_v3_small")[1]
    line = next(line for line in out.splitlines() if "torchvision:mobilenet_v3_small" in line)
    assert "1,2,3,4" in line and "16x8x8 24x4x4 40x2x2 48x2x2 576x1x1" in line


def test_search_on_a_torchvision_backbone_with_a_weights_file(capsys, tmp_path):
    torch.manual_seed(0)
    torch.save(models.mobilenet_v3_small().state_dict(), tmp_path / "weights.pt")
    argv = ["search", "--dataset", "digits", "--backbone", "torchvision:mobilenet_v3_small", "--backbone-option",
            "resolution=32", "--backbone-weights", str(tmp_path / "weights.pt"), "--budget", "2", "--batch-size", "1",
            "--epochs", "1", "--backbone-epochs", "1", "--confirm-top", "0", "--device", "cpu", "--quiet",
            "--run-dir", str(tmp_path / "run")]
    assert main(argv) == 0
    assert "validation front" in capsys.readouterr().out
    assert len(list((tmp_path / "run" / "backbones").glob("backbone-*.pt"))) == 1


@pytest.mark.parametrize("flags, message", [
    (["--backbone", "torchvision:mobilenet_v3_smal"], "did you mean torchvision:mobilenet_v3_small"),
    (["--backbone", "torchvision:mobilenet_v3_small", "--backbone-option", "resolution=16"], "too small"),
    (["--backbone", "torchvision:mobilenet_v3_small", "--backbone-weights", "nowhere.pt"], "nor an existing file"),
    (["--backbone", "torchvision:resnet18", "--backbone-weights", "WRONG"], "weights name of the model (IMAGENET1K_V1)"),
    pytest.param(["--backbone", "timm:mobilenetv3_smal_050"], "did you mean timm:mobilenetv3_small_050", marks=TIMM),
    pytest.param(["--backbone", "timm:resnet18", "--backbone-option", "resolution=16"], "too small", marks=TIMM),
    pytest.param(["--backbone", "timm:resnet18", "--backbone-weights", "in22k"], "pretrained tag of the model (a1_in1k, ",
                 marks=TIMM),
])
def test_bad_backbone_input_is_one_line_and_stores_nothing(capsys, tmp_path, flags, message):
    assert main(["search", "--dataset", "digits", "--run-dir", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_weights_file_of_another_model_is_one_line(capsys, tmp_path):
    torch.save(models.resnet18().state_dict(), tmp_path / "resnet18.pt")
    assert main(["search", "--dataset", "digits", "--run-dir", str(tmp_path / "run"), "--backbone",
                 "torchvision:mobilenet_v3_small", "--backbone-weights", str(tmp_path / "resnet18.pt")]) == 2
    err = capsys.readouterr().err
    assert "do not fit torchvision model 'mobilenet_v3_small'" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_backbones_shows_timm_models_by_name_and_notes_the_family(capsys, monkeypatch):
    pytest.importorskip("timm")
    assert main(["backbones", "--dataset", "fashion_mnist", "--resolution", "32", "timm:mobilenetv3_small_050"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "timm:mobilenetv3_small_050" in line)
    assert "1,2,3,4" in line and "16x16x16 8x8x8 16x4x4 24x2x2 288x1x1" in line
    assert main(["backbones", "--dataset", "digits", "digits_cnn"]) == 0
    assert "timm:NAME" not in capsys.readouterr().out  # names given: only those
    monkeypatch.setattr(BACKBONES, "names", lambda: ["digits_cnn"])  # every registered one: a few seconds
    assert main(["backbones", "--dataset", "digits"]) == 0
    assert "and timm:NAME: a timm model, split at its features_only stage outputs" in capsys.readouterr().out


def test_search_on_a_timm_backbone_with_a_weights_file(capsys, tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    torch.save(timm.create_model("mobilenetv3_small_050").state_dict(), tmp_path / "weights.pt")
    argv = ["search", "--dataset", "digits", "--backbone", "timm:mobilenetv3_small_050", "--backbone-option",
            "resolution=32", "--backbone-weights", str(tmp_path / "weights.pt"), "--budget", "4", "--batch-size", "2",
            "--epochs", "1", "--backbone-epochs", "1", "--confirm-top", "0", "--strategy", "random", "--device", "cpu",
            "--quiet", "--run-dir", str(tmp_path / "run")]
    assert main(argv) == 0
    assert "validation front" in capsys.readouterr().out
    assert len(list((tmp_path / "run" / "backbones").glob("backbone-*.pt"))) == 1


def test_train_takes_backbone_weights_like_search(capsys, tmp_path):
    torch.manual_seed(0)
    torch.save(models.mobilenet_v3_small().state_dict(), tmp_path / "weights.pt")
    (tmp_path / "arch.json").write_text(json.dumps({"backbone": "torchvision:mobilenet_v3_small", "exits": [
        {"position": 2, "branch": []}], "backbone_options": {"resolution": 32}}))
    argv = ["train", str(tmp_path / "arch.json"), "--dataset", "digits", "--epochs", "1", "--backbone-epochs", "1",
            "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--out", str(tmp_path / "bad"), "--backbone-weights", "nowhere.pt"]) == 2
    assert "nor an existing file" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main([*argv, "--out", str(tmp_path / "out"), "--backbone-weights", str(tmp_path / "weights.pt")]) == 0
    saved = json.loads((tmp_path / "out" / "arch.json").read_text())
    assert saved["backbone_options"]["weights"] == str((tmp_path / "weights.pt").resolve())
    trained = torch.load(tmp_path / "out" / "model.pt")
    assert torch.equal(trained["stages.0.1.0.weight"], torch.load(tmp_path / "weights.pt")["features.0.0.weight"])
