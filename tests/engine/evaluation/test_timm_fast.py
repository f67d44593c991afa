"""Fast mode on a timm backbone: from scratch, and with weights from a file (the backbone stays as loaded,
only its new head trains, the cache key holds the weights' checksum); a fast-mode trial on the digits."""

import pytest
import torch

from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.training import TrainConfig
from tests.engine.evaluation.test_torchvision_fast import CONFIG, check_fast_trial

pytest.importorskip("timm")
from tests.search_space.test_timm import weights_file  # noqa: E402, F401  (a fixture: random weights in a file)

NAME = "timm:mobilenetv3_small_050"


def test_given_weights_stay_frozen_a_trial_trains_its_branches_and_the_key_holds_the_checksum(digits, weights_file,
                                                                                            tmp_path):
    frozen = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(weights_file)}, CONFIG,
                                    cache_dir=tmp_path)
    state = torch.load(weights_file)
    assert torch.equal(frozen.model.stages[0][1].weight, state["conv_stem.weight"])
    assert len(frozen.history.loss) == CONFIG.epochs and "its new head trained" in frozen.note
    assert frozen.final_logits["val"].shape == (len(digits.val), 10)
    check_fast_trial(digits, frozen)
    moved = tmp_path / "same-weights-elsewhere.pt"
    moved.write_bytes(weights_file.read_bytes())
    again = FrozenBackbone.prepare(digits, NAME, {"resolution": 32, "weights": str(moved)}, CONFIG, cache_dir=tmp_path)
    assert again.key == frozen.key and "loaded from the cache" in again.note  # the same content: the same backbone


def test_a_timm_backbone_trained_from_scratch_predicts(digits):
    frozen = FrozenBackbone.prepare(digits, NAME, {"resolution": 32}, TrainConfig(epochs=3, batch_size=64, device="cpu"))
    accuracy = (frozen.final_logits["val"].argmax(-1) == digits.val.y).double().mean().item()
    assert accuracy > 0.5  # chance is 0.1
