"""Which trials confirmation takes (hand-made curves), and confirmation on a holdout split the search never
saw (a small digits search)."""

import io
import json
from contextlib import redirect_stdout

import pytest
import torch

from aebnas.cli import main
from aebnas.datasets import load_dataset
from aebnas.engine.evaluation import ExitOutputs
from aebnas.engine.evaluation.training import predict_logits
from aebnas.engine.search import Search
from aebnas.engine.search.confirm import confirmation_order
from aebnas.search_space import build
from tests.browser import CHROMIUM, Browser
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
    """A finished 4-candidate digits search from the command line, confirming 1 of them on a holdout split of
    200 images; and its printed report."""
    run_dir = tmp_path_factory.mktemp("holdout-run")
    with redirect_stdout(io.StringIO()) as out:
        code = main(["search", "--dataset", "digits", "--max-train", "900", "--holdout-size", "200", "--run-dir",
                     str(run_dir), "--budget", "4", "--batch-size", "2", "--n-init", "4", "--epochs", "2",
                     "--strategy", "random", "--backbone-epochs", str(BACKBONE_EPOCHS), "--confirm-top", "1",
                     "--confirm-epochs", "1", "--device", "cpu", "--quiet"])
    assert code == 0
    with Search.open(run_dir) as search:
        data = load_dataset("digits", max_train=900, holdout_size=200, seed=search.config.seed)
        return run_dir, data, search.store.confirmed(), search.trials(), out.getvalue()


def test_confirmation_tunes_thresholds_on_the_holdout(holdout_run):
    run_dir, data, confirmed, trials, _ = holdout_run
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


def test_the_reports_say_the_thresholds_were_tuned_on_the_holdout(holdout_run):
    run_dir, *_, printed = holdout_run
    assert "thresholds tuned on holdout" in printed and "hold %" in printed and "on validation" not in printed
    assert json.loads((run_dir / "report" / "report.json").read_text())["confirmed"].popitem()[1]["tuned_on"] \
        == "holdout"
    if CHROMIUM is not None:
        with Browser() as browser:
            browser.open(run_dir / "report" / "report.html")
            assert browser.errors == []
            assert "holdout acc" in browser.eval("document.querySelector('#confirmed thead').textContent")
            names = browser.eval("document.getElementById('confirmed-plot').data.map(t => t.name)")
            assert any(n.endswith(" holdout") for n in names) and not any(n.endswith(" val") for n in names)


def test_a_holdout_without_holdout_data_is_refused(digits, tmp_path):
    from aebnas.exceptions import AebnasError

    with Search(tmp_path, data=digits, dataset="digits", holdout_size=50, budget=2, batch_size=2, n_init=2,
                epochs=1, strategy="random", backbone_epochs=1, confirm_top=0, device="cpu") as search:
        search.run()
        with pytest.raises(AebnasError, match="holdout_size=50 but the splits given to the search hold no holdout"):
            search.confirm(1)
