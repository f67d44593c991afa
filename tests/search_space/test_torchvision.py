"""torchvision backbones: one battery over every registered model (positions, stage shapes, build, forward
equal to the torchvision model's, exact MACs), their weights (files, library weights with the download
mocked at the edge) and bad input."""

import urllib.error
from types import SimpleNamespace
from typing import Callable
from unittest import mock

import pytest
import torch
from torch import nn
from torchvision import models

from aebnas.exceptions import AebnasError, InvalidArchitectureError, UnknownNameError
from aebnas.search_space import BACKBONES, Architecture, ExitSpec, backbone_stage_macs, count_macs, stage_shapes
from aebnas.search_space import _library
from aebnas.search_space import _torchvision as tv

TORCHVISION = [name for name in BACKBONES if name.startswith(tv.PREFIX)]
SHAPE = (1, 28, 28)  # grey images, resized to 32 px
STATS = SimpleNamespace(mean=(72.9,), std=(90.0,), info=SimpleNamespace(pixel_max=255.0))  # 8-bit pixels


def test_the_issue_s_models_are_registered():
    for model in ("resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
                  "efficientnet_b0", "efficientnet_b1", "regnet_y_400mf", "regnet_y_800mf"):
        assert tv.PREFIX + model in TORCHVISION


def check_exact_split(name: str, options: dict, make_whole: Callable[[], nn.Module]) -> None:
    """Backbone ``name`` with ``options`` (resolution 32), built after seed 0, is the library's model
    ``make_whole()`` (built after seed 0) behind the input adapter, cut into stages of ``stage_shapes``: the
    same logits, and the MACs of its parts (stages, head) sum to fvcore's count of the whole."""
    shapes = stage_shapes(name, options, SHAPE)
    torch.manual_seed(0)
    parts = BACKBONES.get(name).build(options, SHAPE, 10)
    torch.manual_seed(0)
    reference = nn.Sequential(_library.InputAdapter(1, 32), make_whole()).eval()
    split = nn.Sequential(*parts.stages, parts.head).eval()
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(split(x), reference(x), atol=1e-5)  # the same network, cut into parts
        y = x
        for stage, shape in zip(parts.stages, shapes):
            y = stage(y)
            assert tuple(y.shape[1:]) == shape
    stage_macs = backbone_stage_macs(name, options, SHAPE, 10)
    assert sum(stage_macs) + count_macs(parts.head, shapes[-1]) == count_macs(reference, SHAPE)
    assert all(m > 0 for m in stage_macs)


@pytest.mark.parametrize("name", TORCHVISION)
def test_every_torchvision_backbone_splits_exactly(name):
    backbone = BACKBONES.get(name)
    options = backbone.canonical_options({"resolution": 32})
    shapes = stage_shapes(name, options, SHAPE)
    assert backbone.positions(options) == tuple(range(1, len(shapes)))
    assert len(shapes) >= 3
    sizes = [s[1] for s in shapes]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] < 32 and sizes[-1] == 1  # 32-fold reduction
    check_exact_split(name, options, lambda: models.get_model(name.removeprefix(tv.PREFIX), num_classes=10))


def test_stage_1_takes_the_input_adapter_and_the_stem():
    parts = BACKBONES.get("torchvision:resnet18").build({"resolution": 64, "weights": None, "adapt": "head"}, SHAPE, 10)
    first = list(parts.stages[0])
    assert isinstance(first[0], _library.InputAdapter) and isinstance(first[1], nn.Conv2d)
    assert stage_shapes("torchvision:resnet18", BACKBONES.get("torchvision:resnet18").canonical_options(None),
                        SHAPE)[0] == (64, 16, 16)  # the default resolution is 64


def test_input_adapter_maps_the_dataset_standardisation_to_the_weights():
    adapter = _library.InputAdapter(1, 32)
    mean, std = tv.normalisation("mobilenet_v3_small")
    adapter.set_statistics(STATS, mean, std)
    raw = torch.full((1, 1, 28, 28), 0.485 * 255)  # a pixel at the weights' red mean
    out = adapter((raw - 72.9) / 90.0)
    assert out.shape == (1, 3, 32, 32)
    assert out[0, 0].abs().max() < 1e-5  # red channel: (0.485 - 0.485) / 0.229
    assert torch.allclose(out[0, 1], torch.full((32, 32), (0.485 - 0.456) / 0.224), atol=1e-5)
    digits = SimpleNamespace(mean=(4.9,), std=(6.0,), info=SimpleNamespace(pixel_max=16.0))  # pixels 0..16
    adapter.set_statistics(digits, mean, std)
    assert adapter((torch.full((1, 1, 28, 28), 0.485 * 16) - 4.9) / 6.0)[0, 0].abs().max() < 1e-5


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Randomly initialised mobilenet_v3_small weights (1000 ImageNet classes), saved as a state dict."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "mnv3s.pt"
    torch.save(models.mobilenet_v3_small().state_dict(), path)
    return path


def test_weights_from_a_state_dict_file_load_and_are_identified_by_checksum(weights_file):
    backbone = BACKBONES.get("torchvision:mobilenet_v3_small")
    options = backbone.canonical_options({"resolution": 32, "weights": str(weights_file)})
    assert options["weights"] == str(weights_file.resolve())
    assert backbone.weights_identity(options).startswith("sha256:")
    state = torch.load(weights_file)
    parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert not parts.pretrained_head  # 1000 classes: the head is new
    assert torch.equal(parts.stages[0][1][0].weight, state["features.0.0.weight"])  # stem conv (after the adapter)
    random = backbone.build(options, SHAPE, 10)  # no statistics: random weights (shapes, MACs)
    assert not torch.equal(random.stages[0][1][0].weight, state["features.0.0.weight"])


def test_a_saved_module_with_the_dataset_s_classes_brings_its_head(tmp_path):
    torch.manual_seed(2)
    model = models.mobilenet_v3_small(num_classes=10)
    torch.save(model, tmp_path / "module.pt")
    backbone = BACKBONES.get("torchvision:mobilenet_v3_small")
    options = backbone.canonical_options({"resolution": 32, "weights": str(tmp_path / "module.pt")})
    parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert parts.pretrained_head and torch.equal(parts.head[-1][-1].weight, model.classifier[-1].weight)


def test_library_weights_come_through_torchvision_s_download_mocked_at_the_edge():
    backbone = BACKBONES.get("torchvision:mobilenet_v3_small")
    options = backbone.canonical_options({"resolution": 32, "weights": "DEFAULT"})
    assert backbone.weights_identity(options) == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    torch.manual_seed(3)
    state = models.mobilenet_v3_small().state_dict()
    with mock.patch("torchvision.models._api.load_state_dict_from_url", return_value=state) as fetch:
        parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert fetch.call_args.args[0] == models.MobileNet_V3_Small_Weights.IMAGENET1K_V1.url
    assert torch.equal(parts.stages[0][1][0].weight, state["features.0.0.weight"])


def test_offline_without_cached_library_weights_is_one_clear_line():
    backbone = BACKBONES.get("torchvision:resnet18")
    options = backbone.canonical_options({"resolution": 32, "weights": "IMAGENET1K_V1"})
    offline = urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    with mock.patch("torchvision.models._api.load_state_dict_from_url", side_effect=offline):
        with pytest.raises(AebnasError, match=r"download https://download.pytorch.org/models/resnet18-\w+\.pth "
                                              r"elsewhere and put it in .*checkpoints/") as err:
            backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert "\n" not in str(err.value)


def test_a_weights_file_of_another_model_or_shape_is_refused(tmp_path, weights_file):
    torch.save(models.resnet18().state_dict(), tmp_path / "resnet18.pt")
    with pytest.raises(AebnasError, match="do not fit torchvision model 'mobilenet_v3_small'.*missing"):
        Architecture("torchvision:mobilenet_v3_small", (ExitSpec(1),), {"weights": str(tmp_path / "resnet18.pt")})
    torch.save(models.mobilenet_v3_small(width_mult=0.5).state_dict(), tmp_path / "narrow.pt")
    with pytest.raises(AebnasError, match=r"of another shape \(e\.g\. .*in the file"):
        BACKBONES.get("torchvision:mobilenet_v3_small").canonical_options({"weights": str(tmp_path / "narrow.pt")})
    (tmp_path / "junk.pt").write_text("not weights")
    with pytest.raises(AebnasError, match="cannot be read"):
        BACKBONES.get("torchvision:mobilenet_v3_small").canonical_options({"weights": str(tmp_path / "junk.pt")})
    with pytest.raises(InvalidArchitectureError, match="neither DEFAULT, a weights name .*IMAGENET1K_V1.* nor an existing"):
        BACKBONES.get("torchvision:mobilenet_v3_small").canonical_options({"weights": str(tmp_path / "missing.pt")})


@pytest.mark.parametrize("options, message", [
    ({"resolution": 16}, "resolution 16 is too small: .* at least 32 px"),
    ({"resolution": "64"}, "resolution must be an integer"),
    ({"adapt": "some"}, "adapt='some' is not allowed; allowed values: 'head', 'all'"),
    ({"width": 2}, "unknown option 'width'; allowed: resolution, weights, adapt"),
])
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(InvalidArchitectureError, match=message):
        BACKBONES.get("torchvision:resnet18").canonical_options(options)


def test_unknown_names_list_close_matches():
    with pytest.raises(UnknownNameError, match=r"unknown backbone 'torchvision:resnet19' \(did you mean "
                                               r"torchvision:resnet18"):
        BACKBONES.get("torchvision:resnet19")
    with pytest.raises(UnknownNameError, match="vgg16 is a torchvision model of a family aebnas cannot split"):
        BACKBONES.get("torchvision:vgg16")
