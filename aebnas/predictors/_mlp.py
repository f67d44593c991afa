"""Small MLP predictor (the AEBNAS paper's surrogate kind), kept as a comparison baseline; its std comes
from a small deep ensemble (members differing only in initialisation and batch order)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from botorch.models.ensemble import EnsembleModel
from torch import Tensor, nn

from aebnas.exceptions import AebnasError
from aebnas.predictors._base import PREDICTORS, Predictor, array_from_json, array_to_json


def _net(d: int, hidden: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


@PREDICTORS.register("mlp")
class MLPPredictor(Predictor):
    """Deep ensemble of ``n_members`` MLPs on standardised inputs and targets, trained with Adam
    (mini-batches of ``batch_size`` rows, MSE loss, weight decay); mean and std across members
    (a deep ensemble, Lakshminarayanan et al. 2017, without the per-member variance head).

    Args:
        hidden: widths of the hidden layers.
        n_members: networks in the ensemble (1 gives std 0).
        epochs: passes over the rows per member.
        lr, weight_decay: Adam's.
        batch_size: rows per step.
        seed: member ``m`` is initialised and shuffled with ``seed + m``.
    """

    kind = "mlp"

    def __init__(
        self,
        hidden: Sequence[int] = (64, 64),
        n_members: int = 5,
        epochs: int = 200,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.hidden = tuple(hidden)
        self.n_members = n_members
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["hidden"] = list(self.hidden)
        return params

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> "MLPPredictor":
        if self.n_members < 1:
            raise AebnasError(f"n_members must be >= 1, got {self.n_members}")
        X, y, _ = self._check_fit_input(X, y, groups)
        self.x_mean_, self.x_std_ = X.mean(axis=0), X.std(axis=0)
        self.x_std_[self.x_std_ == 0] = 1.0
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
        inputs = torch.as_tensor((X - self.x_mean_) / self.x_std_, dtype=torch.float32)
        targets = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32).unsqueeze(-1)
        self.members_ = []
        for m in range(self.n_members):
            generator = torch.Generator().manual_seed(self.seed + m)
            with torch.random.fork_rng():
                torch.manual_seed(self.seed + m)
                net = _net(X.shape[1], self.hidden)
            optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for _ in range(self.epochs):
                for batch in torch.randperm(len(targets), generator=generator).split(self.batch_size):
                    optimizer.zero_grad()
                    loss = nn.functional.mse_loss(net(inputs[batch]), targets[batch])
                    loss.backward()
                    optimizer.step()
            self.members_.append(net.eval().requires_grad_(False))
        return self

    def forward_members(self, X: torch.Tensor) -> torch.Tensor:
        """`... x n x d` rows -> `... x members x n` predictions in target units (differentiable in X)."""
        dtype = X.dtype if X.is_floating_point() else torch.float64
        x_mean = torch.as_tensor(self.x_mean_, dtype=torch.float32)
        x_std = torch.as_tensor(self.x_std_, dtype=torch.float32)
        inputs = (X.to(torch.float32) - x_mean) / x_std
        out = torch.stack([net(inputs).squeeze(-1) for net in self.members_], dim=-2)
        return (out * self.y_std_ + self.y_mean_).to(dtype)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_predict_input(X)
        with torch.no_grad():
            values = self.forward_members(torch.as_tensor(X, dtype=torch.float64)).numpy()
        return values.mean(axis=0), values.std(axis=0)

    def to_botorch(self) -> "MLPEnsembleModel":
        self._check_fitted()
        return MLPEnsembleModel(self)

    def _get_state(self) -> dict[str, Any]:
        return {"x_mean": array_to_json(self.x_mean_), "x_std": array_to_json(self.x_std_),
                "y_mean": self.y_mean_, "y_std": self.y_std_,
                "members": [{k: array_to_json(v) for k, v in net.state_dict().items()} for net in self.members_]}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.x_mean_, self.x_std_ = array_from_json(state["x_mean"]), array_from_json(state["x_std"])
        self.y_mean_, self.y_std_ = float(state["y_mean"]), float(state["y_std"])
        d = len(self.x_mean_)
        self.members_ = []
        for member in state["members"]:
            net = _net(d, self.hidden)
            net.load_state_dict({k: torch.as_tensor(array_from_json(v)) for k, v in member.items()})
            self.members_.append(net.eval().requires_grad_(False))


class MLPEnsembleModel(EnsembleModel):
    """The networks of a fitted :class:`MLPPredictor` as a BoTorch ``EnsembleModel`` (differentiable)."""

    _num_outputs = 1

    def __init__(self, predictor: MLPPredictor) -> None:
        super().__init__()
        self.predictor = predictor

    def forward(self, X: Tensor) -> Tensor:
        """`batch_shape x q x d` -> `batch_shape x members x q x 1`."""
        return self.predictor.forward_members(X).unsqueeze(-1)
