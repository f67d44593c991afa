import numpy as np
import pytest
import torch

from aebnas.exceptions import AebnasError
from aebnas.exit_rules import EXIT_RULES, confidence, first_exit
from aebnas.search_space import SearchSpace, build


class Info:
    input_shape, num_classes = (1, 8, 8), 10


@pytest.mark.parametrize("rule", EXIT_RULES.names())
def test_early_exit_inference_equals_full_forward_with_the_same_rule(rule):
    torch.manual_seed(0)
    space = SearchSpace("extended", Info.input_shape, 10)
    for arch in space.sample_many(4, np.random.default_rng(3)):
        model = build(arch, Info()).eval()
        x = torch.randn(64, *Info.input_shape)
        logits = model(x)
        scores = confidence(logits.softmax(-1), rule)
        # thresholds at per-exit medians: about half the samples leave at each early exit
        thresholds = scores[:, :-1].median(dim=0).values
        expected_exit = first_exit(scores, thresholds)
        expected_pred = logits.argmax(-1).gather(1, expected_exit[:, None]).squeeze(1)
        preds, exits = model.infer(x, thresholds, rule)
        assert torch.equal(exits, expected_exit)
        assert torch.equal(preds, expected_pred)
        assert exits.min() == 0 or len(arch.exits) == 0


def test_infinite_thresholds_send_everyone_to_the_final_exit():
    arch = SearchSpace("paper", Info.input_shape, 10).sample(0)
    model = build(arch, Info()).eval()
    x = torch.randn(16, *Info.input_shape)
    preds, exits = model.infer(x, [float("inf")] * len(arch.exits))
    assert (exits == len(arch.exits)).all()
    assert torch.equal(preds, model(x)[:, -1].argmax(-1))


def test_wrong_number_of_thresholds():
    arch = SearchSpace("paper", Info.input_shape, 10).sample(0)
    with pytest.raises(AebnasError, match="thresholds"):
        build(arch, Info()).eval().infer(torch.randn(2, 1, 8, 8), [0.5] * (len(arch.exits) + 1))
