"""The Predictor contract (scikit-learn style: hyper-parameters in ``__init__``, ``fit`` returns self,
learned state ends in ``_``), its registry, schema metadata, and save/load with schema checks."""

from __future__ import annotations

import copy
import inspect
import json
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from aebnas.exceptions import AebnasError, SchemaMismatchError
from aebnas.registry import Registry
from aebnas.versions import library_versions

FORMAT = "aebnas-predictor"
FORMAT_VERSION = 2  # 2: MACs-budget feature names (log10_macs_budget, ...)

PREDICTORS: Registry[type["Predictor"]] = Registry("predictor")
"""Predictor classes by name (``xgboost``, ``gp``, ``mlp``); each takes only hyper-parameters."""

#: the libraries whose versions a saved predictor records (with Python's)
SAVED_WITH = ("aebnas", "numpy", "torch", "botorch", "gpytorch", "xgboost", "scikit-learn", "scipy")

_KINDS: dict[str, type["Predictor"]] = {}  # every concrete Predictor class by kind, for load()


def create_predictor(name: str, **kwargs: Any) -> "Predictor":
    """A new, unfitted predictor of the registered kind ``name`` with hyper-parameters ``kwargs``."""
    return PREDICTORS.get(name)(**kwargs)


def schema_metadata(space, feature_names: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Metadata identifying the rows a predictor was fitted on: the space's ``describe()`` (preset,
    version, backbone, ...), the feature names, and any ``extra`` (dataset, target, trials, cv, ...).
    The same dict without ``extra`` is the ``expect`` to pass to :meth:`Predictor.load`."""
    return {"space": space.describe(), "feature_names": list(feature_names), **extra}


class Predictor(ABC):
    """Predicts accuracy (and its uncertainty) from `n x d` feature rows.

    Subclasses set ``kind`` (their registry name), take only hyper-parameters in ``__init__`` (stored
    under the same names, as scikit-learn does), and implement :meth:`fit`, :meth:`predict`,
    :meth:`to_botorch` (its BoTorch model for the acquisition), :meth:`_get_state` and
    :meth:`_set_state` (JSON-able learned state).

    Attributes:
        metadata: free-form description set by the caller and by ``fit``: ``space`` (its
            ``describe()``, with preset and version), ``feature_names``, ``dataset``, ``target``
            (e.g. its normalisation), ``num_trials``, ``cv`` metrics, ``library_versions``.
        n_features_in_: `d` of the rows it was fitted on.
    """

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind and not inspect.isabstract(cls):
            _KINDS[cls.kind] = cls

    # -- the contract -----------------------------------------------------------------------------
    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> "Predictor":
        """Fits on `n x d` rows ``X`` with `n` targets ``y``; `n` ``groups`` (architecture of each row)
        lets a model resample or split by architecture. Returns self."""

    @abstractmethod
    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`n` mean and `n` standard deviation (float64) for `n x d` rows."""

    def to_botorch(self):
        """The fitted predictor as a one-output BoTorch ``Model`` of accuracy on `batch_shape x q x d`
        rows (what the ``bo`` strategy's acquisition evaluates). Every registered predictor has one; a
        predictor without it can still be fitted and cross-validated."""
        raise AebnasError(f"predictor kind {self.kind or type(self).__name__!r} has no BoTorch model; "
                          "implement to_botorch() to use it with the bo strategy")

    @abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """The learned state as JSON-able values."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`_get_state` returned."""

    # -- shared helpers -----------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        if not hasattr(self, "_metadata"):
            self._metadata: dict[str, Any] = {}
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = dict(value)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters, by the names ``__init__`` takes."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def _check_fit_input(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float64 `n x d` X, `n` y, and `n` int groups (each row its own group when None)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise AebnasError(f"fit needs `n x d` rows and `n` targets; got X {X.shape}, y {y.shape}")
        if X.shape[0] < 2:
            raise AebnasError(f"fit needs at least 2 rows; got {X.shape[0]}")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise AebnasError("fit rows and targets must be finite")
        if groups is None:
            groups = np.arange(len(y))
        groups = np.asarray(groups).reshape(-1)
        if groups.shape[0] != y.shape[0]:
            raise AebnasError(f"{groups.shape[0]} groups for {y.shape[0]} rows; expected one per row")
        _, groups = np.unique(groups, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self.metadata.update(num_rows=int(len(y)), num_groups=int(groups.max() + 1),
                             library_versions=library_versions(SAVED_WITH))
        return X, y, groups.reshape(-1)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise AebnasError(f"{type(self).__name__} is not fitted; call fit() first")

    def _check_predict_input(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        X = X.reshape(1, -1) if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise SchemaMismatchError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} features; got rows of shape {X.shape}"
            )
        return X

    # -- persistence ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Kind, hyper-parameters, metadata and learned state as JSON-able values."""
        if not self.is_fitted:
            raise AebnasError(f"cannot save an unfitted {type(self).__name__}; call fit() first")
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind,
                "params": self.get_params(), "metadata": copy.deepcopy(self.metadata),
                "state": {"n_features_in_": self.n_features_in_, **self._get_state()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Predictor":
        """The predictor :meth:`to_dict` described (of any kind when called on ``Predictor``)."""
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        if found != FORMAT:
            raise SchemaMismatchError(f"not a saved aebnas predictor: format {found!r}, expected {FORMAT!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise SchemaMismatchError(
                f"predictor format_version differs: saved {data.get('format_version')!r}, expected {FORMAT_VERSION!r}"
            )
        kind = data.get("kind")
        if kind not in _KINDS:
            raise SchemaMismatchError(f"saved predictor kind {kind!r} is unknown; known: {', '.join(sorted(_KINDS))}")
        target = _KINDS[kind]
        if cls is not Predictor and not issubclass(target, cls):
            raise SchemaMismatchError(f"predictor kind differs: saved {kind!r}, expected {cls.kind or cls.__name__!r}")
        predictor = target._restore(data["params"], data["state"])
        predictor.n_features_in_ = int(data["state"]["n_features_in_"])
        predictor.metadata = data.get("metadata", {})
        return predictor

    @classmethod
    def _restore(cls, params: dict[str, Any], state: dict[str, Any]) -> "Predictor":
        predictor = cls(**params)
        predictor._set_state(state)
        return predictor

    def save(self, path: str | Path) -> Path:
        """Writes the predictor as one JSON file (no pickle); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), allow_nan=True, default=_json_default))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, expect: dict[str, Any] | None = None) -> "Predictor":
        """The predictor saved at ``path``.

        Args:
            expect: metadata the predictor must carry to be used here, e.g.
                ``schema_metadata(space, names)`` or ``{"space": {"preset": "extended", "version": 1}}``.
                Dicts are compared key by key (only the keys given), other values by equality.
        Raises:
            SchemaMismatchError: a field differs (named, with the saved and the expected value), or the
                file is not a saved predictor (of this kind, when called on a subclass).
        """
        path = Path(path)
        if not path.is_file():
            raise AebnasError(f"no saved predictor at {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise SchemaMismatchError(f"{path} is not a saved predictor: {err}") from None
        predictor = cls.from_dict(data)
        if expect:
            check_metadata(predictor.metadata, expect, where=str(path))
        return predictor


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays (e.g. CV metrics in the metadata) as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"metadata value of type {type(value).__name__} cannot be saved as JSON")


def load_predictor(path: str | Path, expect: dict[str, Any] | None = None) -> Predictor:
    """The predictor of any kind saved at ``path`` (:meth:`Predictor.load`)."""
    return Predictor.load(path, expect)


def check_metadata(metadata: dict[str, Any], expect: dict[str, Any], where: str = "predictor") -> None:
    """Raises SchemaMismatchError naming the first field of ``expect`` that ``metadata`` does not match."""
    for field, mismatch in _mismatches(metadata, expect, ""):
        saved, expected = mismatch
        raise SchemaMismatchError(f"{where}: {field} differs: saved {saved}, expected {expected}")


_MISSING = object()


def _mismatches(actual: Any, expected: Any, prefix: str):
    if isinstance(expected, dict):
        for key, value in expected.items():
            field = f"{prefix}.{key}" if prefix else str(key)
            sub = actual.get(key, _MISSING) if isinstance(actual, dict) else _MISSING
            if sub is _MISSING:
                yield field, ("nothing (field missing)", _short(value))
            else:
                yield from _mismatches(sub, value, field)
    elif isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        if len(actual) != len(expected):
            yield prefix, (f"{len(actual)} entries", f"{len(expected)} entries" + _first_difference(actual, expected))
        else:
            for i, (a, e) in enumerate(zip(actual, expected)):
                if not _equal(a, e):
                    yield f"{prefix}[{i}]", (_short(a), _short(e))
                    return
    elif not _equal(actual, expected):
        yield prefix, (_short(actual), _short(expected))


def _first_difference(actual: Sequence, expected: Sequence) -> str:
    for i, (a, e) in enumerate(zip(actual, expected)):
        if not _equal(a, e):
            return f" (first difference at [{i}]: saved {_short(a)}, expected {_short(e)})"
    return ""


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- JSON-able arrays -----------------------------------------------------------------------------------


def array_to_json(array) -> dict[str, Any]:
    """A numpy array or torch tensor as ``{"dtype", "shape", "data"}`` (floats round-trip exactly)."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    return {"dtype": str(array.dtype), "shape": list(array.shape), "data": array.reshape(-1).tolist()}


def array_from_json(data: dict[str, Any]) -> np.ndarray:
    return np.asarray(data["data"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])


def bootstrap_groups(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`n` row weights of one bootstrap resample of the groups (architectures): each row's weight is
    how many times its group was drawn (0 = out of bag)."""
    num_groups = int(groups.max()) + 1
    drawn = np.bincount(rng.integers(num_groups, size=num_groups), minlength=num_groups)
    return drawn[groups].astype(np.float64)
