"""The whole-curve acquisition's choices on a known objective: rows `(accuracy, MACs budget)` scored by a
deterministic model, so that each architecture's hypervolume gain can be worked out by hand (reference
point: accuracy 0, MACs budget 1)."""

import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.model import ModelList

from aebnas.engine.search.strategies import BayesianOptimisation

#: the rows of three architectures, (accuracy, MACs budget) each; areas over the reference point:
#: A alone 0.8 * 0.6 = 0.48; C alone 0.72 * 0.7 = 0.504 (the best single point); B's points alone 0.40,
#: 0.35, 0.17, its whole curve 0.3 * 0.5 + 0.3 * 0.7 + 0.2 * 0.85 = 0.53 (the best curve). With B's
#: curve pending, A adds 0.03 + 0.03 = 0.06 and C only 0.044 + 0.006 = 0.05.
ROWS = {"A": [(0.8, 0.4)], "B": [(0.5, 0.2), (0.7, 0.5), (0.85, 0.8)], "C": [(0.72, 0.3)]}


def acquisition(baseline: torch.Tensor) -> qLogNoisyExpectedHypervolumeImprovement:
    """qLogNEHVI on (accuracy, -MACs budget) read straight from the rows' two columns."""
    model = ModelList(GenericDeterministicModel(lambda X: X[..., :1]), GenericDeterministicModel(lambda X: -X[..., 1:]))
    return qLogNoisyExpectedHypervolumeImprovement(model=model, ref_point=[0.0, -1.0], X_baseline=baseline,
                                                   prune_baseline=False, cache_root=False)


def pool(rows: dict[str, list[tuple[float, float]]]) -> tuple[torch.Tensor, list[str]]:
    ids = [arch for arch, points in rows.items() for _ in points]
    return torch.tensor([p for points in rows.values() for p in points], dtype=torch.float64), ids


BASELINE = torch.tensor([[0.01, 0.95]], dtype=torch.float64)  # one observed point that covers almost nothing


def test_whole_curve_takes_the_architecture_whose_curve_adds_most_not_its_best_single_point():
    choices, ids = pool(ROWS)
    rows = BayesianOptimisation()._choose_curves(acquisition(BASELINE), choices, ids, 2, [])
    assert [ids[r] for r in rows] == ["B", "A"]  # C's single point is better than A's, but not beside B's curve
    assert choices[rows[0]].tolist() == [0.5, 0.2]  # B's label: its best single point


def test_point_wise_takes_the_best_single_point():
    choices, ids = pool(ROWS)
    rows = BayesianOptimisation(whole_curve=False)._choose_points(acquisition(BASELINE), choices, ids, 1, [])
    assert [ids[r] for r in rows] == ["C"]


def test_a_curve_dominated_by_a_pending_proposal_is_not_taken():
    choices, ids = pool({"D": [(0.78, 0.45)], "E": [(0.3, 0.1)]})  # D alone 0.429, E alone 0.27
    pending = torch.tensor([ROWS["A"][0]], dtype=torch.float64)  # A dominates D; E adds 0.3 * 0.3 beside it
    assert [ids[r] for r in BayesianOptimisation()._choose_curves(acquisition(BASELINE), choices, ids, 1, [])] == ["D"]
    rows = BayesianOptimisation()._choose_curves(acquisition(BASELINE), choices, ids, 1, [pending])
    assert [ids[r] for r in rows] == ["E"]


def test_lazy_greedy_picks_what_scoring_every_curve_each_round_picks():
    rng = np.random.default_rng(0)
    rows = {}
    for a in range(70):  # more architectures than one lazy chunk, curves of 1-4 points
        macs = np.sort(rng.uniform(0.05, 0.95, rng.integers(1, 5)))
        accuracy = np.sort(rng.uniform(0.2, 0.9, len(macs)))  # a trade-off curve: dearer points more accurate
        rows[f"a{a}"] = list(zip(accuracy, macs))
    choices, ids = pool(rows)
    lazy = BayesianOptimisation()._choose_curves(acquisition(BASELINE), choices, ids, 4, [])
    acqf = acquisition(BASELINE)
    curves = {arch: choices[[i for i, x in enumerate(ids) if x == arch]] for arch in rows}  # `q x 2` each

    greedy = []
    for _ in range(4):
        if greedy:
            acqf.set_X_pending(torch.cat([curves[arch] for arch in greedy]))
        with torch.no_grad():
            gains = {arch: float(acqf(curve.unsqueeze(0))) for arch, curve in curves.items() if arch not in greedy}
        greedy.append(max(gains, key=gains.get))
    assert [ids[r] for r in lazy] == greedy
