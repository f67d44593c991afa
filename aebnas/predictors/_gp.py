"""Gaussian-process predictor: a BoTorch ``SingleTaskGP`` over the non-constant feature columns, with
``Normalize`` inputs and ``Standardize`` outcomes, fitted by ``botorch.fit.fit_gpytorch_mll``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import ChainedInputTransform, FilterFeatures, Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.kernels import ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from aebnas.exceptions import AebnasError
from aebnas.predictors._base import PREDICTORS, Predictor, array_from_json, array_to_json

KERNELS = ("matern", "mixed")


@PREDICTORS.register("gp")
class GaussianProcess(Predictor):
    """Exact GP on the predictor rows.

    Kernels (the encoding mixes continuous columns, e.g. log MACs and budget ratios, with one-hot and
    0/1 option columns):

    * ``"matern"`` (default): one Matern-5/2 kernel with a length scale per column (ARD) and BoTorch's
      dimension-scaled log-normal length-scale prior (Hvarfner et al. 2024, BoTorch's default for
      ``SingleTaskGP``), which keeps ~100+ ARD dimensions usable with a few hundred rows. On a 0/1
      column (after ``Normalize``) a stationary ARD kernel only sees "same or different", weighted
      by that column's length scale: it acts as a weighted Hamming kernel, the usual kernel for
      one-hot categories, while continuous columns keep their smooth Matern distance.
    * ``"mixed"``: ``k_c + k_b + k_c * k_b`` over the continuous and the 0/1 columns (each a scaled
      Matern-5/2 with ARD), as BoTorch's ``MixedSingleTaskGP`` combines continuous and categorical
      kernels: additive effects of the architecture plus their interaction with the budget.

    Constant training columns are dropped (fixed in ``fit`` and remembered; BoTorch's
    ``FilterFeatures`` input transform drops them, so the model takes full-width rows).
    ``predict`` returns the predictive std of an observation (latent variance + learned noise).

    Args:
        kernel: ``"matern"`` or ``"mixed"``.
        max_iter: L-BFGS-B iterations of the marginal-likelihood fit.
        seed: seeds torch during the fit (BoTorch re-samples hyper-parameters from their priors when
            a fit fails), without touching the global random state.
    """

    kind = "gp"

    def __init__(self, kernel: str = "matern", max_iter: int = 200, seed: int = 0) -> None:
        self.kernel = kernel
        self.max_iter = max_iter
        self.seed = seed

    def _build(self, train_X: torch.Tensor, train_Y: torch.Tensor) -> SingleTaskGP:
        keep = torch.as_tensor(self.keep_, dtype=torch.long)
        transform = ChainedInputTransform(filter=FilterFeatures(keep), normalize=Normalize(len(self.keep_)))
        binary = [j for j, b in enumerate(self.binary_) if b]
        continuous = [j for j, b in enumerate(self.binary_) if not b]
        if self.kernel == "matern" or not binary or not continuous:
            covar = get_covar_module_with_dim_scaled_prior(len(self.keep_), use_rbf_kernel=False)
        else:
            k_c = get_covar_module_with_dim_scaled_prior(len(continuous), use_rbf_kernel=False, active_dims=continuous)
            k_b = get_covar_module_with_dim_scaled_prior(len(binary), use_rbf_kernel=False, active_dims=binary)
            covar = ScaleKernel(k_c) + ScaleKernel(k_b) + ScaleKernel(k_c * k_b)
        model = SingleTaskGP(train_X, train_Y, covar_module=covar, input_transform=transform,
                             outcome_transform=Standardize(1))
        return model.to(torch.float64)

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> "GaussianProcess":
        if self.kernel not in KERNELS:
            raise AebnasError(f"unknown GP kernel {self.kernel!r}; allowed: {', '.join(KERNELS)}")
        X, y, _ = self._check_fit_input(X, y, groups)
        varies = np.ptp(X, axis=0) > 0
        if not varies.any():
            raise AebnasError("every feature column is constant: a GP has nothing to learn from")
        self.keep_ = np.flatnonzero(varies).tolist()
        kept = X[:, varies]
        self.binary_ = [bool(np.isin(col, (0.0, 1.0)).all()) for col in kept.T]
        self.train_X_, self.train_y_ = X, y  # raw rows: save() rebuilds the same model from them
        self.model_ = self._build(torch.as_tensor(X), torch.as_tensor(y).unsqueeze(-1))
        mll = ExactMarginalLogLikelihood(self.model_.likelihood, self.model_)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": self.max_iter}})
        self.model_.eval()
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_predict_input(X)
        means, stds = [], []
        with torch.no_grad():
            for chunk in torch.as_tensor(X, dtype=torch.float64).split(4096):
                posterior = self.model_.posterior(chunk, observation_noise=True)
                means.append(posterior.mean.reshape(-1))
                stds.append(posterior.variance.clamp_min(0).sqrt().reshape(-1))
        return torch.cat(means).numpy(), torch.cat(stds).numpy()

    def to_botorch(self) -> SingleTaskGP:
        """The fitted ``SingleTaskGP`` (its input transform drops the constant columns, so it takes
        full-width rows)."""
        self._check_fitted()
        return self.model_

    def _get_state(self) -> dict[str, Any]:
        return {"keep": self.keep_, "binary": self.binary_,
                "train_X": array_to_json(self.train_X_), "train_y": array_to_json(self.train_y_),
                "state_dict": {k: array_to_json(v) for k, v in self.model_.state_dict().items()}}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.keep_, self.binary_ = list(state["keep"]), list(state["binary"])
        self.train_X_, self.train_y_ = array_from_json(state["train_X"]), array_from_json(state["train_y"])
        self.model_ = self._build(torch.as_tensor(self.train_X_), torch.as_tensor(self.train_y_).unsqueeze(-1))
        self.model_.load_state_dict({k: torch.as_tensor(array_from_json(v)) for k, v in state["state_dict"].items()})
        self.model_.eval()
