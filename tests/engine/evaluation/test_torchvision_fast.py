"""Fast mode on a torchvision backbone with given weights: the backbone stays as loaded (frozen), only its
new head is trained, and the cache key holds the weights' checksum."""

import pytest
import torch
from torchvision import models

from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.candidate import train_candidate
from aebnas.engine.evaluation.training import TrainConfig
from aebnas.search_space import Architecture, ExitSpec
from aebnas.search_space.layers import Conv

NAME = "torchvision:mobilenet_v3_small"
CONFIG = TrainConfig(epochs=2, batch_size=64, device="cpu")


def random_weights(seed: int) -> dict[str, torch.Tensor]:
    """Random-initialised mobilenet_v3_small weights (ImageNet's 1000 classes), their batch-norm statistics
    calibrated on random grey images as a trained model's are on its data: pixels uniform in [0, 1],
    standardised with the weights' normalisation, as the input adapter gives them (at their initial values
    the deep random network's last-stage features vanish; calibrated on unit noise they are ~15 times too
    large for the head's learning rate, and no head learns from them either)."""
    torch.manual_seed(seed)
    model = models.mobilenet_v3_small()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average
    weights = models.MobileNet_V3_Small_Weights.DEFAULT.transforms()
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (weights.mean, weights.std))
    with torch.no_grad():
        for _ in range(3):
            model.train()((torch.rand(32, 1, 32, 32).expand(32, 3, 32, 32) - mean) / std)
    return model.state_dict()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random weights saved to a file (never a download)."""
    path = tmp_path_factory.mktemp("weights") / "mnv3s.pt"
    torch.save(random_weights(5), path)
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


@pytest.fixture(scope="module")
def frozen(digits, weights, cache_dir):
    return FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(weights)}, CONFIG,
                                  cache_dir=cache_dir)


def test_given_weights_stay_frozen_and_only_the_new_head_trains(digits, weights, frozen):
    state = torch.load(weights)
    assert torch.equal(frozen.model.stages[0][1][0].weight, state["features.0.0.weight"])
    # the model's own head (here two linear layers, the last new for 10 classes) trains whole, from the weights
    assert not torch.equal(frozen.model.head[-1][0].weight, state["classifier.0.weight"])
    assert len(frozen.history.loss) == CONFIG.epochs and "its new head trained" in frozen.note
    assert frozen.final_logits["val"].shape == (len(digits.val), 10)
    accuracy = (frozen.final_logits["train"].argmax(-1) == digits.train.y).double().mean().item()
    assert accuracy > 0.3  # chance is 0.1: the head learned on the frozen random features


def check_fast_trial(digits, frozen: FrozenBackbone) -> None:
    """A trial with exits after stages 1 and 3 trains its branches on the ``frozen`` backbone, leaving it as it is."""
    arch = Architecture(frozen.backbone, (ExitSpec(1, (Conv(stride=2),)), ExitSpec(3, ())), frozen.options)
    before = [p.clone() for p in frozen.model.parameters()]
    result = train_candidate(arch, digits, CONFIG, "fast", frozen)
    assert all(torch.equal(a, b) for a, b in zip(before, frozen.model.parameters()))
    assert result.outputs.val.logits.shape == (len(digits.val), 3, 10)
    assert result.costs.paths[0] < result.costs.paths[1] < result.costs.paths[2]
    assert result.history.loss[-1] < result.history.loss[0]


def test_a_fast_mode_trial_trains_its_branches_on_the_frozen_backbone(digits, frozen):
    check_fast_trial(digits, frozen)


def test_the_cache_key_holds_the_weights_checksum(digits, weights, frozen, cache_dir, tmp_path):
    again = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(weights)}, CONFIG,
                                   cache_dir=cache_dir)
    assert again.key == frozen.key and again.history.loss == [] and "loaded from the cache" in again.note
    assert torch.equal(again.final_logits["test"], frozen.final_logits["test"])
    moved = tmp_path / "same-weights-elsewhere.pt"
    moved.write_bytes(weights.read_bytes())
    same = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(moved)}, CONFIG, cache_dir=cache_dir)
    assert same.key == frozen.key  # the same content under another path: the same backbone
    torch.save(random_weights(6), tmp_path / "other.pt")
    other = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(tmp_path / "other.pt")}, CONFIG)
    assert other.key != frozen.key


def test_adapt_all_fine_tunes_the_backbone_before_freezing_it(digits, weights):
    tuned = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(weights), "adapt": "all"},
                                   TrainConfig(epochs=1, batch_size=64, device="cpu"))
    state = torch.load(weights)
    assert not torch.equal(tuned.model.stages[0][1][0].weight, state["features.0.0.weight"])
    assert "fine-tuned from sha256:" in tuned.note


def test_a_backbone_trained_from_scratch_predicts_in_eval_mode(digits):
    """torchvision's MobileNetV3 sets batch-norm momentum 0.01; trained from scratch for a few epochs its
    running statistics stayed near their initial values and eval mode predicted at chance."""
    frozen = FrozenBackbone.prepare(digits, NAME, {"resolution": 32}, TrainConfig(epochs=3, batch_size=64, device="cpu"))
    accuracy = (frozen.final_logits["val"].argmax(-1) == digits.val.y).double().mean().item()
    assert accuracy > 0.5  # chance is 0.1
