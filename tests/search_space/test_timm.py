"""timm backbones (``timm:NAME``): one battery over a sample of small timm models (positions, stage shapes
against timm's feature_info, build, forward equal to the timm model's, exact MACs), their weights (files,
timm's pretrained weights with the download mocked at the edge) and bad input, timm missing included."""

import sys
from unittest import mock

import pytest
import torch

import aebnas.search_space
from aebnas.exceptions import AebnasError, InvalidArchitectureError, UnknownNameError
from aebnas.registry import Registry
from aebnas.search_space import BACKBONES, Architecture, ExitSpec, stage_shapes
from aebnas.search_space.backbones import timm_backbone
from tests.search_space.test_torchvision import SHAPE, STATS, check_exact_split

timm = pytest.importorskip("timm")
from aebnas.search_space import _timm  # noqa: E402  (after the skip: it imports timm)

#: small models of six families (ResNet, MobileNetV3, EfficientNet, RegNet, ConvNeXt, GhostNet)
SAMPLE = ["resnet18", "mobilenetv3_small_050", "efficientnet_b0", "regnetx_002", "convnext_atto", "ghostnet_050"]
SMALL = "timm:mobilenetv3_small_050"


@pytest.mark.parametrize("model", SAMPLE)
def test_timm_backbones_split_at_their_feature_info_exactly(model):
    name = _timm.PREFIX + model
    backbone = BACKBONES.get(name)
    options = backbone.canonical_options({"resolution": 32})
    shapes = stage_shapes(name, options, SHAPE)
    info = timm.create_model(model).feature_info
    assert len(shapes) == len(info) and backbone.positions(options) == tuple(range(1, len(info)))
    for shape, feature in zip(shapes[:-1], info):  # timm's features_only outputs; the last stage adds the tail
        assert shape == (feature["num_chs"], 32 // feature["reduction"], 32 // feature["reduction"])
    assert shapes[-1][1:] == (1, 1)
    check_exact_split(name, options, lambda: timm.create_model(model, num_classes=10))


def test_the_head_is_the_model_s_own_with_only_its_head_parameters():
    parts = BACKBONES.get("timm:resnet18").build({"resolution": 32, "weights": None, "adapt": "head"}, SHAPE, 7)
    assert isinstance(parts.head, _timm.ModelHead)
    assert sorted(k for k, _ in parts.head.named_parameters()) == ["model.fc.bias", "model.fc.weight"]
    assert parts.head.model.fc.out_features == 7
    parts.head.eval()
    assert not parts.head.model.training  # forward_head's dropout reads the model's own mode
    stage_params = {id(p) for stage in parts.stages for p in stage.parameters()}
    assert not stage_params & {id(p) for p in parts.head.parameters()}


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Randomly initialised mobilenetv3_small_050 weights (1000 ImageNet classes), saved as a state dict."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "mnv3.pt"
    torch.save(timm.create_model("mobilenetv3_small_050").state_dict(), path)
    return path


def test_weights_from_a_state_dict_file_load_and_are_identified_by_checksum(weights_file):
    backbone = BACKBONES.get(SMALL)
    options = backbone.canonical_options({"resolution": 32, "weights": str(weights_file)})
    assert options["weights"] == str(weights_file.resolve())
    assert backbone.weights_identity(options).startswith("sha256:")
    state = torch.load(weights_file)
    parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert not parts.pretrained_head  # 1000 classes: the classifier is new
    assert torch.equal(parts.stages[0][1].weight, state["conv_stem.weight"])  # after the input adapter
    assert torch.equal(parts.head.model.conv_head.weight, state["conv_head.weight"])  # the head's pre-logits layer
    mean, std = timm.models.get_pretrained_cfg("mobilenetv3_small_050").mean, timm.models.get_pretrained_cfg(
        "mobilenetv3_small_050").std
    assert torch.allclose(parts.stages[0][0].scale, torch.tensor(90.0 / 255) / torch.tensor(std))
    assert torch.allclose(parts.stages[0][0].shift, (torch.tensor(72.9 / 255) - torch.tensor(mean)) / torch.tensor(std))
    random = backbone.build(options, SHAPE, 10)  # no statistics: random weights (shapes, MACs)
    assert not torch.equal(random.stages[0][1].weight, state["conv_stem.weight"])


def test_a_saved_module_with_the_dataset_s_classes_brings_its_head(tmp_path):
    torch.manual_seed(2)
    model = timm.create_model("mobilenetv3_small_050", num_classes=10)
    torch.save(model, tmp_path / "module.pt")
    backbone = BACKBONES.get(SMALL)
    parts = backbone.build(backbone.canonical_options({"resolution": 32, "weights": str(tmp_path / "module.pt")}),
                           SHAPE, 10, pretrained=STATS)
    assert parts.pretrained_head and torch.equal(parts.head.model.classifier.weight, model.classifier.weight)


def test_pretrained_weights_come_through_timm_s_download_mocked_at_the_edge():
    backbone = BACKBONES.get(SMALL)
    options = backbone.canonical_options({"resolution": 32, "weights": "DEFAULT"})
    assert backbone.weights_identity(options) == "mobilenetv3_small_050.lamb_in1k"
    torch.manual_seed(3)
    state = timm.create_model("mobilenetv3_small_050").state_dict()
    with mock.patch("timm.models._builder.load_state_dict_from_hf", return_value=state) as fetch:
        parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert fetch.call_args.args[0] == "timm/mobilenetv3_small_050.lamb_in1k"
    assert torch.equal(parts.stages[0][1].weight, state["conv_stem.weight"])
    resnet = BACKBONES.get("timm:resnet18")
    assert resnet.weights_identity(resnet.canonical_options({"weights": "tv_in1k"})) == "resnet18.tv_in1k"


def test_offline_without_cached_pretrained_weights_is_one_clear_line():
    backbone = BACKBONES.get("timm:resnet18")
    options = backbone.canonical_options({"resolution": 32, "weights": "DEFAULT"})
    offline = OSError("We couldn't connect to 'https://huggingface.co' to load the files,\nand couldn't find them "
                      "in the cached files.")
    with mock.patch("timm.models._builder.load_state_dict_from_hf", side_effect=offline):
        with pytest.raises(AebnasError, match=r"cannot get the timm weights resnet18\.a1_in1k .*offline, download "
                                              r"https://huggingface\.co/timm/resnet18\.a1_in1k .*--backbone-weights PATH"
                                              r".* cache of it in .*hub") as err:
            backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert "\n" not in str(err.value)


def test_a_weights_file_of_another_model_or_shape_is_refused(tmp_path):
    torch.save(timm.create_model("resnet18").state_dict(), tmp_path / "resnet18.pt")
    with pytest.raises(AebnasError, match="do not fit timm model 'mobilenetv3_small_050'.*missing.*"
                                          r"timm\.create_model\('mobilenetv3_small_050'\)"):
        Architecture(SMALL, (ExitSpec(1),), {"weights": str(tmp_path / "resnet18.pt")})
    torch.save(timm.create_model("mobilenetv3_small_075").state_dict(), tmp_path / "wider.pt")
    with pytest.raises(AebnasError, match=r"of another shape \(e\.g\. .*in the file"):
        BACKBONES.get(SMALL).canonical_options({"weights": str(tmp_path / "wider.pt")})
    with pytest.raises(InvalidArchitectureError, match="neither DEFAULT, a pretrained tag of the model "
                                                       r"\(lamb_in1k\) nor an existing file"):
        BACKBONES.get(SMALL).canonical_options({"weights": "in21k"})
    with pytest.raises(InvalidArchitectureError, match="no existing file .*no pretrained tags"):
        BACKBONES.get("timm:ghostnet_050").canonical_options({"weights": "DEFAULT"})  # timm has no weights for it


@pytest.mark.parametrize("options, message", [
    ({"resolution": 16}, "resolution 16 is too small: the model needs at least 32 px"),
    ({"resolution": 64.0}, "resolution must be an integer"),
    ({"adapt": "some"}, "adapt='some' is not allowed"),
    ({"depth": 2}, "unknown option 'depth'; allowed: resolution, weights, adapt"),
])
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(InvalidArchitectureError, match=message):
        BACKBONES.get("timm:resnet18").canonical_options(options)


def test_unknown_and_unsplittable_names_are_one_clear_line():
    with pytest.raises(UnknownNameError, match=r"unknown backbone 'timm:resnet19': timm .* has no model 'resnet19' "
                                               r"\(did you mean timm:resnet18"):
        BACKBONES.get("timm:resnet19")
    with pytest.raises(UnknownNameError, match="give the model and its weights apart: --backbone timm:resnet18 "
                                               "--backbone-weights a1_in1k"):
        BACKBONES.get("timm:resnet18.a1_in1k")
    with pytest.raises(UnknownNameError, match="cannot split timm model 'vit_tiny_patch16_224' into stages: its "
                                               "forward_features fails"):
        BACKBONES.get("timm:vit_tiny_patch16_224")
    with pytest.raises(UnknownNameError, match=r"or timm:NAME \(a timm model"):
        BACKBONES.get("resnet19")  # no prefix: the registered names, and the timm family
    assert BACKBONES.get("timm:resnet18") is BACKBONES.get("timm:resnet18")  # resolved once


def test_without_timm_a_timm_backbone_is_one_line_and_the_rest_works(monkeypatch):
    """timm not installed (its import mocked to fail): ``timm:NAME`` names what to install."""
    registry = Registry("backbone")
    registry.register_prefix("timm:", timm_backbone, "timm models")
    monkeypatch.delattr(aebnas.search_space, "_timm")
    with mock.patch.dict(sys.modules, {"timm": None}):
        sys.modules.pop("aebnas.search_space._timm")
        with pytest.raises(AebnasError, match=r"^backbone 'timm:resnet18' needs timm, which is not installed: "
                                              r"pip install 'aebnas\[timm\]'$"):
            registry.get("timm:resnet18")
        assert BACKBONES.get("torchvision:resnet18").num_stages({}) == 4  # every other backbone still works


def test_weights_as_published_by_timm_a_safetensors_file_load(tmp_path):
    from safetensors.torch import save_file  # installed with timm

    torch.manual_seed(4)
    state = timm.create_model("mobilenetv3_small_050").state_dict()
    save_file(state, tmp_path / "model.safetensors")
    backbone = BACKBONES.get(SMALL)
    options = backbone.canonical_options({"resolution": 32, "weights": str(tmp_path / "model.safetensors")})
    parts = backbone.build(options, SHAPE, 10, pretrained=STATS)
    assert torch.equal(parts.stages[0][1].weight, state["conv_stem.weight"])
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AebnasError, match="cannot be read as safetensors"):
        backbone.canonical_options({"weights": str(tmp_path / "bad.safetensors")})
