
import pytest
import torch

from aebnas.engine.evaluation.candidate import SavedCandidate, save_candidate, train_candidate
from aebnas.engine.evaluation.backbone import FrozenBackbone, feature_bytes
from aebnas.engine.evaluation.training import TrainConfig, exit_loss, train_joint
from aebnas.exceptions import AebnasError, TrainingError
from aebnas.search_space import Architecture, ExitSpec, build, stage_shapes
from aebnas.search_space.layers import Conv

ARCH = Architecture("digits_cnn", (ExitSpec(1, (Conv(stride=2),)), ExitSpec(3, ())), {"width": 8})
CONFIG = TrainConfig(epochs=6, batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


@pytest.fixture(scope="module")
def backbone(digits, cache_dir):
    return FrozenBackbone.prepare(digits, "digits_cnn", {"width": 8}, CONFIG, cache_dir=cache_dir)


def test_joint_training_lowers_the_loss_and_beats_chance(digits):
    result = train_candidate(ARCH, digits, CONFIG, "joint")
    assert result.history.loss[-1] < 0.5 * result.history.loss[0]
    assert (result.outputs.test.exit_accuracy() > 0.3).all()  # chance is 0.1
    assert result.outputs.test.exit_accuracy()[-1] > 0.85


def test_fast_mode_trains_only_branches_on_the_frozen_backbone(digits, backbone):
    before = [p.clone() for p in backbone.model.parameters()]
    result = train_candidate(ARCH, digits, CONFIG, "fast", backbone)
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.model.parameters()))
    assert result.history.loss[-1] < result.history.loss[0]
    assert result.outputs.val.exit_accuracy()[0] > 0.3
    # cached outputs equal a real forward of the assembled network
    logits = result.model.eval()(digits.test.x)
    assert torch.allclose(logits.half().float(), result.outputs.test.logits.float(), atol=2e-2)


def test_backbone_is_reused_from_the_cache_by_content_hash(digits, backbone, cache_dir):
    again = FrozenBackbone.prepare(digits, "digits_cnn", {"width": 8}, CONFIG, cache_dir=cache_dir)
    assert again.key == backbone.key and again.history.loss == []  # loaded, not retrained
    # the same features bit for bit as the freshly trained one's, so every result trained on them is too
    for split in ("train", "val", "test"):
        assert all(torch.equal(a, b) for a, b in zip(again.features[split], backbone.features[split]))
        assert torch.equal(again.final_logits[split], backbone.final_logits[split])
    other = FrozenBackbone.prepare(digits, "digits_cnn", {"width": 8}, TrainConfig(epochs=1, device="cpu"),
                                   cache_dir=cache_dir)
    assert other.key != backbone.key and other.history.loss  # another config trains its own


def test_features_over_the_memory_cap_are_cached_for_the_exit_positions_only_or_recomputed(digits, backbone,
                                                                                            cache_dir, capsys):
    full = train_candidate(ARCH, digits, CONFIG, "fast", backbone)
    per_image = feature_bytes(stage_shapes("digits_cnn", backbone.options, digits.info.input_shape))
    n = len(digits.train) + len(digits.val) + len(digits.test)
    exits_only = FrozenBackbone.prepare(digits, "digits_cnn", {"width": 8}, CONFIG, cache_dir=cache_dir,
                                        max_feature_bytes=n * sum(per_image[:-1]))
    assert [f is None for f in exits_only.features["train"]] == [False, False, False, True]
    assert "stages 1, 2, 3 only" in capsys.readouterr().err
    recomputed = FrozenBackbone.prepare(digits, "digits_cnn", {"width": 8}, CONFIG, cache_dir=cache_dir,
                                        max_feature_bytes=1000)
    assert all(f is None for f in recomputed.features["val"]) and "recomputed per batch" in capsys.readouterr().err
    assert torch.allclose(recomputed.stage_features("val", slice(0, 50), (1, 3))[1], backbone.features["val"][2][:50],
                          atol=1e-2)
    for other in (exits_only, recomputed):  # the same candidate, up to float rounding
        result = train_candidate(ARCH, digits, CONFIG, "fast", other)
        assert result.outputs.val.exit_accuracy() == pytest.approx(full.outputs.val.exit_accuracy(), abs=0.02)


def test_cached_metrics_equal_real_early_exit_inference(digits, backbone):
    result = train_candidate(ARCH, digits, CONFIG, "fast", backbone, rule="margin")
    tuned = result.tune(0.6 * result.costs.paths[-1])
    assert tuned.val.avg_macs <= 0.6 * result.costs.paths[-1]
    on_test = tuned.test
    model = result.model.eval()
    preds, exits = model.infer(digits.test.x, tuned.val.thresholds, "margin")
    counts = torch.bincount(exits, minlength=result.arch.num_exits).double()
    assert (preds == digits.test.y).double().mean().item() == pytest.approx(on_test.accuracy, abs=1 / len(preds))
    assert torch.allclose(counts / len(preds), on_test.exit_fractions.double(), atol=1 / len(preds))
    avg = (counts / len(preds)) @ torch.tensor(result.costs.paths, dtype=torch.float64)
    assert avg.item() == pytest.approx(on_test.avg_macs, rel=1e-3)


def test_saved_candidate_round_trip(digits, backbone, tmp_path):
    result = train_candidate(ARCH, digits, CONFIG, "fast", backbone)
    save_candidate(result, tmp_path)
    saved = SavedCandidate.load(tmp_path)
    assert saved.arch == ARCH and saved.costs == result.costs and saved.summary == result.summary()
    assert saved.tune(0.7 * result.costs.paths[-1]) == result.tune(0.7 * result.costs.paths[-1])
    assert torch.equal(saved.outputs.val.logits, result.outputs.val.logits)
    with pytest.raises(AebnasError, match="not a trained-candidate directory"):
        SavedCandidate.load(tmp_path / "nothing")


def test_non_finite_loss_raises_training_error(digits):
    with pytest.raises(TrainingError, match="non-finite loss"):
        train_candidate(ARCH, digits, TrainConfig(epochs=1, lr=1e30, device="cpu"), "joint")


def test_exit_loss_weights_and_distillation():
    logits = torch.randn(8, 3, 10, requires_grad=True)
    y = torch.randint(0, 10, (8,))
    plain = exit_loss(logits, y, TrainConfig())
    only_final = exit_loss(logits, y, TrainConfig(exit_weights=(0.0, 0.0, 1.0)))
    assert only_final < plain
    assert exit_loss(logits, y, TrainConfig(distill=1.0)) > plain
    with pytest.raises(AebnasError, match="exit_weights has 2 values"):
        exit_loss(logits, y, TrainConfig(exit_weights=(1.0, 1.0)))


def test_out_of_memory_becomes_a_training_error(digits, monkeypatch):
    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    model = build(ARCH, digits.info)
    monkeypatch.setattr(model, "forward", no_memory)
    with pytest.raises(TrainingError, match="out of memory while training"):
        train_joint(model, digits.train, digits.info, TrainConfig(epochs=1, device="cpu"))
