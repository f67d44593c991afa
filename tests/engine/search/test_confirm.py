"""Which trials confirmation takes (hand-made curves), and confirmation on a holdout split the search never
saw (a small digits search)."""

import pytest
import torch

from aebnas.datasets import load_dataset
from aebnas.engine.evaluation import ExitOutputs
from aebnas.engine.evaluation.training import predict_logits
from aebnas.engine.search import Search
from aebnas.engine.search.confirm import confirmation_order
from aebnas.search_space import build
from tests.conftest import BACKBONE_EPOCHS
from tests.engine.search._curves import curve


# trial 1 is the most accurate at the target (50 MACs); trial 2 is nearly the same curve; trial 3 is worse at
# the target but alone covers the cheap end of the front
CURVES = [(1, "a", curve([(30.0, 0.60), (50.0, 0.90)])), (2, "b", curve([(31.0, 0.60), (50.0, 0.89)])),
          (3, "c", curve([(5.0, 0.50), (45.0, 0.70)]))]


def test_the_best_at_the_target_comes_first_then_the_curve_adding_most_to_the_front():
    assert confirmation_order(CURVES, 2, 50.0, 50.0, 0.1) == [1, 3]  # not the near-duplicate 2
    assert confirmation_order(CURVES, 3, 50.0, 50.0, 0.1) == [1, 3, 2]
    assert confirmation_order(CURVES, 5, 50.0, 50.0, 0.1) == [1, 3, 2]  # no more than there are


def test_without_a_target_the_largest_hypervolume_comes_first():
    # reference (100 MACs, 0.1): own hypervolumes 0.5 * 0.7 + 0.3 * 0.5 = 0.50 (trial 1), 0.49 (2), and
    # 0.4 * 0.95 + 0.2 * 0.55 = 0.49 (3); then 3 adds the cheap end, 2 almost nothing
    assert confirmation_order(CURVES, 3, None, 100.0, 0.1) == [1, 3, 2]
    far = [(4, "d", curve([(1.0, 0.55), (45.0, 0.7)])), *CURVES]  # cheaper than 3: now the largest alone
    assert confirmation_order(far, 2, None, 100.0, 0.1) == [4, 1]


def test_a_curve_that_cannot_reach_the_target_is_not_taken_first():
    curves = [(1, "a", curve([(60.0, 0.95)])), (2, "b", curve([(40.0, 0.80)]))]
    assert confirmation_order(curves, 2, 50.0, 50.0, 0.1) == [2, 1]


@pytest.fixture(scope="module")
def holdout_run(tmp_path_factory):
    """A finished 4-candidate digits search confirming 1 of them on a holdout split of 200 images."""
    data = load_dataset("digits", max_train=900, holdout_size=200)
    run_dir = tmp_path_factory.mktemp("holdout-run")
    with Search(run_dir, data=data, dataset="digits", max_train=900, holdout_size=200, budget=4, batch_size=2,
                n_init=4, epochs=2, strategy="random", backbone_epochs=BACKBONE_EPOCHS, confirm_top=1,
                confirm_epochs=1, device="cpu") as search:
        search.run()
        return search.run_dir, data, search.store.confirmed(), search.trials()


def test_confirmation_tunes_thresholds_on_the_holdout(holdout_run):
    run_dir, data, confirmed, trials = holdout_run
    (result,) = confirmed.values()
    assert result.tuned_on == "holdout" and result.verified
    arch = next(t.arch for t in trials if t.arch_id == result.arch_id)
    model = build(arch, data.info)
    model.load_state_dict(torch.load(run_dir / result.checkpoint, weights_only=True))
    model.to(memory_format=torch.channels_last)  # the layout the confirmation measured in
    on_holdout = result.val.apply(ExitOutputs(predict_logits(model, data.holdout.x, "cpu"), data.holdout.y),
                                  result.path_macs)
    on_val = result.val.apply(ExitOutputs(predict_logits(model, data.val.x, "cpu"), data.val.y), result.path_macs)
    assert on_holdout.accuracy == result.val.accuracy and on_holdout.avg_macs == pytest.approx(result.val.avg_macs)
    assert result.val_curve.accuracy.tolist() != pytest.approx([on_val.accuracy])  # measured on the holdout


def test_a_holdout_without_holdout_data_is_refused(digits, tmp_path):
    from aebnas.exceptions import AebnasError

    with Search(tmp_path, data=digits, dataset="digits", holdout_size=50, budget=2, batch_size=2, n_init=2,
                epochs=1, strategy="random", backbone_epochs=1, confirm_top=0, device="cpu") as search:
        search.run()
        with pytest.raises(AebnasError, match="holdout_size=50 but the splits given to the search hold no holdout"):
            search.confirm(1)
