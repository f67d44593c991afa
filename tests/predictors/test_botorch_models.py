"""Tests of the BoTorch adapters: qLogNEHVI over predicted accuracy and exact budgets with every
predictor kind, and the exact MACs objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.models.ensemble import EnsembleModel
from botorch.optim import optimize_acqf_discrete

from aebnas.exceptions import AebnasError
from aebnas.predictors import warm_start
from aebnas.predictors.botorch_models import macs_model, objective_model
from tests.predictors.conftest import BUDGET_INDEX, fast_predictor

SCALE = 1e4  # objective in units of 10k MACs


def acquisition(predictor, train, seed=0):
    model = objective_model(predictor, BUDGET_INDEX, scale=SCALE)
    ref_point = [float(train.y.min()) - 0.05, -1.1 * float(train.macs_budgets.max()) / SCALE]
    torch.manual_seed(seed)
    return qLogNoisyExpectedHypervolumeImprovement(model=model, ref_point=ref_point,
                                                   X_baseline=torch.as_tensor(train.X[::3]), prune_baseline=True)


@pytest.fixture(scope="module")
def warm(train_test):
    train, _ = train_test
    source = fast_predictor("xgboost", seed=5).fit(train.X, 0.5 * train.y, train.groups)
    return warm_start(source, fast_predictor("gp")).fit(train.X[:60], train.y[:60], train.groups[:60])


@pytest.mark.parametrize("q", [1, 3])
def test_qlognehvi_with_each_predictor(name, fitted, train_test, q):
    train, test = train_test
    acqf = acquisition(fitted(name), train)
    pool = torch.as_tensor(test.X)
    with torch.no_grad():
        values = acqf(pool.unsqueeze(1))
    assert values.shape == (len(pool),) and torch.isfinite(values).all()
    assert values.std() > 0  # candidates are told apart
    chosen, _ = optimize_acqf_discrete(acqf, q=q, choices=pool)
    assert chosen.shape == (q, pool.shape[1])
    assert len({tuple(row.tolist()) for row in chosen}) == q  # q distinct rows of the pool
    assert all((pool == row).all(dim=1).any() for row in chosen)


def test_qlognehvi_with_a_warm_started_predictor(warm, train_test):
    train, test = train_test
    acqf = acquisition(warm, train)
    pool = torch.as_tensor(test.X)
    with torch.no_grad():
        assert torch.isfinite(acqf(pool.unsqueeze(1))).all()
    chosen, _ = optimize_acqf_discrete(acqf, q=2, choices=pool)
    assert len({tuple(row.tolist()) for row in chosen}) == 2


def test_to_botorch_matches_the_predictor(name, fitted, train_test):
    _, test = train_test
    predictor = fitted(name)
    model = predictor.to_botorch()
    X = torch.as_tensor(test.X[:8]).reshape(2, 4, -1)  # batch x q x d
    with torch.no_grad():
        posterior = model.posterior(X)
    assert posterior.mean.shape == (2, 4, 1)
    if isinstance(model, EnsembleModel):  # members' mean is the predictor's mean
        assert model(X).shape[:2] == (2, predictor.n_members) and model(X).shape[-2:] == (4, 1)
        np.testing.assert_allclose(posterior.mean.reshape(-1).numpy(), predictor.predict(test.X[:8])[0], rtol=1e-6)
    else:  # the GP's latent mean; predict() returns the same mean
        np.testing.assert_allclose(posterior.mean.reshape(-1).numpy(), predictor.predict(test.X[:8])[0], rtol=1e-6)


def test_macs_objective_is_the_exact_budget(train_test):
    _, test = train_test
    X = torch.as_tensor(test.X[:6]).reshape(3, 2, -1)
    out = macs_model(BUDGET_INDEX)(X)
    np.testing.assert_allclose(-out.reshape(-1).numpy(), test.macs_budgets[:6], rtol=1e-12)
    raw = X.clone()
    raw[..., 0] = 1234.0
    np.testing.assert_allclose(macs_model(0, log10=False, scale=2.0)(raw).numpy(), -617.0)


def test_to_botorch_needs_a_fitted_predictor():
    with pytest.raises(AebnasError, match="not fitted"):
        fast_predictor("xgboost").to_botorch()


def test_proposal_over_a_space_pool():
    """Rows of a real space: curve rows to fit on, a pool of (architecture, budget) candidates, the
    budget objective read back exactly from the budget column."""
    from aebnas.search_space.macs import path_costs
    from aebnas.predictors import macs_budget_column, macs_budget_features, curve_rows
    from aebnas.search_space.space import SearchSpace
    from tests.predictors.test_features import make_curve

    space = SearchSpace("extended", (1, 8, 8), 10)
    archs = space.sample_many(16, rng=3)
    costs = [path_costs(a, space.input_shape, space.num_classes) for a in archs]
    rng = np.random.default_rng(0)
    rows = curve_rows(space, archs, costs, [make_curve(c.paths, 0.2 + 0.4 * rng.random(), 0.9) for c in costs])
    predictor = fast_predictor("xgboost").fit(rows.X, rows.y, rows.groups)
    pool_archs = space.sample_many(10, rng=4, exclude={a.id for a in archs})
    pool_costs = [path_costs(a, space.input_shape, space.num_classes) for a in pool_archs]
    macs_budgets = [c.paths[-1] * f for f in (0.3, 0.7) for c in pool_costs]
    pool, names = macs_budget_features(space, pool_archs * 2, pool_costs * 2, macs_budgets)
    column = macs_budget_column(names)
    np.testing.assert_allclose(-macs_model(column)(torch.as_tensor(pool).unsqueeze(1)).reshape(-1).numpy(), macs_budgets,
                               rtol=1e-12)
    acqf = qLogNoisyExpectedHypervolumeImprovement(
        model=objective_model(predictor, column, scale=1e5),
        ref_point=[0.0, -1.1 * max(c.paths[-1] for c in costs) / 1e5], X_baseline=torch.as_tensor(rows.X))
    chosen, _ = optimize_acqf_discrete(acqf, q=4, choices=torch.as_tensor(pool))
    assert len({tuple(row.tolist()) for row in chosen}) == 4
