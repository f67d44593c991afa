"""The settings of a search, frozen: what it searches, how candidates train, how many, and how the best
are confirmed. ``identity()`` is what a resumed run must share with the stored one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from aebnas.checks import check_float, check_int, check_seed
from aebnas.datasets import DATASETS
from aebnas.device import check_device_name
from aebnas.engine.evaluation import TrainConfig
from aebnas.engine.evaluation.candidate import check_mode
from aebnas.engine.execution import TrialSettings
from aebnas.engine.search.strategies import BayesianOptimisation, Strategy, create_strategy
from aebnas.engine.tables import BenchmarkTable
from aebnas.exceptions import AebnasError
from aebnas.exit_rules import EXIT_RULES
from aebnas.predictors import PREDICTORS
from aebnas.search_space import COSTS, MACS, LatencyCost, SearchSpace
from aebnas.search_space.backbones import option_key
from aebnas.search_space.latency import LatencyTable

#: settings a rerun may change without changing the trials
_NOT_IDENTITY = ("budget", "confirm_top", "confirm_epochs", "confirm_lr", "holdout_size", "retries", "device")
#: settings left out of the identity while at these defaults, so that runs stored before they existed still resume
_OPTIONAL_IDENTITY = {"train_seed": None, "table": None, "cost": "macs", "latency_table": None}


def _option_pairs(options: Any) -> tuple[tuple[str, Any], ...]:
    """Backbone options as sorted (name, value) pairs, list values as tuples (hashable, frozen)."""
    if options is None:
        return ()
    if isinstance(options, tuple):
        options = dict(options)
    if not isinstance(options, dict):
        raise AebnasError(f"backbone_options must be a mapping of option names to values; got {options!r}")
    return option_key({k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})


@dataclass(frozen=True)
class SearchConfig:
    """Settings of a search. ``strategy`` is a Strategy object (a registered name is turned into one with
    its default settings); ``backbone_options`` may be given as a dict and is kept as sorted pairs.

    ``budget`` is the number of trained candidates (the predictor budget); an average-MACs budget is
    always called a *MACs budget*, and ``target_macs`` is the user's target of average MACs.

    ``cost`` is the cost axis: ``macs`` (exact MACs, the default) or ``latency`` (the milliseconds of the
    latency table in ``latency_table``, made by ``aebnas profile``). With latency every "MACs" quantity of
    the search (``target_macs``, MACs budgets, path costs, the front) is in milliseconds instead.

    ``holdout_size``: images (official train images that ``max_train`` leaves over, so the trials do not
    change) on which confirmation re-ranks its candidates and tunes their thresholds, instead of the
    validation split the search selected on."""

    dataset: str = "digits"
    space: str = "extended"
    budget: int = 20
    batch_size: int = 4
    n_init: int | None = None
    strategy: Strategy = field(default_factory=BayesianOptimisation)
    predictor: str = "gp"
    mode: str = "fast"
    epochs: int = 15
    backbone_epochs: int = 15
    train_batch_size: int = 64
    lr: float = 0.05
    target_macs: float | None = None
    rule: str = "margin"
    backbone: str | None = None
    backbone_options: tuple[tuple[str, Any], ...] = ()
    max_exits: int = 4
    val_size: int | None = None
    max_train: int | None = None
    seed: int = 0
    train_seed: int | None = None
    table: str | None = None
    confirm_top: int = 2
    confirm_epochs: int = 10
    confirm_lr: float = 0.01
    holdout_size: int | None = None
    warm_start_predictor: str | None = None
    cost: str = "macs"
    latency_table: str | None = None
    retries: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.strategy, str):
            object.__setattr__(self, "strategy", create_strategy(self.strategy))
        elif not isinstance(self.strategy, Strategy):
            raise AebnasError(f"strategy must be a Strategy object or a registered name; got {self.strategy!r}")
        object.__setattr__(self, "backbone_options", _option_pairs(self.backbone_options))
        DATASETS.get(self.dataset)
        PREDICTORS.get(self.predictor)
        EXIT_RULES.get(self.rule)
        check_mode(self.mode)
        check_device_name(self.device)
        check_int("budget (trained candidates)", self.budget, 1)
        check_int("batch size (proposals per round)", self.batch_size, 1, max(self.budget, 1))
        if self.n_init is not None:
            check_int("n_init (initial design; a predictor needs >= 2 trials)", self.n_init, 2)
        check_int("epochs", self.epochs, 1)
        check_int("backbone epochs", self.backbone_epochs, 1)
        check_int("training batch size", self.train_batch_size, 1)
        check_float("learning rate", self.lr, 0, low_open=True)
        if self.target_macs is not None:
            check_float("target MACs", self.target_macs, 0, low_open=True)
        check_int("max exits", self.max_exits, 1)
        for name, value in (("validation size", self.val_size), ("max train", self.max_train)):
            if value is not None:
                check_int(name, value, 1)
        check_seed(self.seed)
        if self.train_seed is not None:
            check_seed(self.train_seed, "training seed")
        check_int("confirm_top", self.confirm_top, 0)
        if self.table is not None and self.confirm_top:
            raise AebnasError(f"a search against a benchmark table trains nothing, so it cannot confirm candidates "
                              f"(confirm_top={self.confirm_top}); set confirm_top=0 (--confirm-top 0): the table "
                              "holds every architecture's test metrics")
        check_int("confirmation epochs", self.confirm_epochs, 1)
        check_float("confirmation learning rate", self.confirm_lr, 0, low_open=True)
        if self.holdout_size is not None:
            check_int("holdout size", self.holdout_size, 1)
            if self.table is not None:
                raise AebnasError("a search against a benchmark table confirms nothing, so it has no use for a "
                                  f"holdout split (holdout_size={self.holdout_size}); leave it out")
        check_int("retries", self.retries, 0)
        self._check_cost()

    def _check_cost(self) -> None:
        if self.cost not in COSTS:
            raise AebnasError(f"unknown cost {self.cost!r}; allowed: {', '.join(COSTS)}")
        if self.cost == "latency" and self.latency_table is None:
            raise AebnasError("cost 'latency' needs a latency table (--latency-table FILE); make one with "
                              "`aebnas profile --dataset D --out FILE`")
        if self.cost != "latency" and self.latency_table is not None:
            raise AebnasError(f"a latency table is used only with cost 'latency' (--cost latency); got cost {self.cost!r}")
        if self.cost == "latency" and self.table is not None:
            raise AebnasError("a benchmark table records costs in MACs: a search against it cannot use cost 'latency'")

    @classmethod
    def from_identity(cls, identity: dict[str, Any], **overrides: Any) -> "SearchConfig":
        """The config whose ``identity()`` is ``identity`` (as a run store holds it), with ``overrides``
        of the settings outside the identity (budget, confirmation, retries, device)."""
        settings = dict(identity)
        if settings.get("table") is not None:
            overrides.setdefault("confirm_top", 0)  # a table search confirms nothing
        strategy = dict(settings.pop("strategy"))
        return cls(strategy=create_strategy(strategy.pop("name"), **strategy), **settings, **overrides)

    @classmethod
    def for_table(cls, table: BenchmarkTable, table_path: str | None = None, **settings: Any) -> "SearchConfig":
        """A search against ``table`` (stored at ``table_path``, default the path it was read from): its
        dataset, space, backbone and training settings come from the table; ``settings`` give the rest
        (strategy, seed, budget, ...). A setting that contradicts the table is refused."""
        table_path = table_path or table.path
        if table_path is None:
            raise AebnasError("a search against a table stores the table's path; give table_path (or a table "
                              "read with load_table)")
        given = dict(settings)
        given.setdefault("confirm_top", 0)
        probe = cls(**{**table.training_settings, **given, "table": str(table_path)})
        table.check_search(probe.identity(), probe.strategy.curve_method, probe.budget)
        return probe

    @property
    def initial_design(self) -> int:
        """Trials of the initial design: ``n_init``, or an eighth of the budget (at least 2 batches' worth, at
        most the budget): 8 of 64 at batch size 4, the design every benchmark-table comparison measured
        (docs/benchmarks.md); half the budget, the earlier default, left `bo` equal to random search
        for its first half."""
        return min(self.budget, self.n_init or max(2 * self.batch_size, self.budget // 8))

    @property
    def backbone_options_dict(self) -> dict[str, Any]:
        return dict(self.backbone_options)

    def identity(self) -> dict[str, Any]:
        """Settings that decide the trials, as JSON-able values: a rerun may change budget, confirmation,
        retries and device, not these."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _NOT_IDENTITY or (f.name in _OPTIONAL_IDENTITY and value == _OPTIONAL_IDENTITY[f.name]):
                continue
            if f.name == "strategy":
                value = value.to_dict()
            elif f.name == "backbone_options":
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value} or None
            out[f.name] = value
        return out

    def make_space(self, dataset_info) -> SearchSpace:
        """The search space for the dataset described by ``dataset_info``, with this search's cost axis (the
        latency table is read here: one clear error if it is missing, damaged or for another space)."""
        cost = MACS if self.latency_table is None else LatencyCost(LatencyTable.load(self.latency_table))
        return SearchSpace.for_dataset(dataset_info, self.space, backbone=self.backbone,
                                       backbone_options=self.backbone_options_dict or None, max_exits=self.max_exits,
                                       cost=cost)

    def train_config(self, epochs: int | None = None, lr: float | None = None, progress: bool = False) -> TrainConfig:
        """The candidates' training settings (``epochs`` and ``lr`` default to the search's)."""
        return TrainConfig(epochs=epochs or self.epochs, batch_size=self.train_batch_size, lr=lr or self.lr,
                           seed=self.seed if self.train_seed is None else self.train_seed, device=self.device,
                           progress=progress)

    def trial_settings(self, space: SearchSpace) -> TrialSettings:
        """What a worker needs to train this search's trials in ``space``."""
        return TrialSettings(
            dataset=self.dataset, val_size=self.val_size, max_train=self.max_train, data_seed=self.seed,
            backbone=space.backbone, backbone_options=option_key(space.backbone_options), mode=self.mode,
            train=self.train_config(),
            backbone_train=dataclasses.replace(self.train_config(self.backbone_epochs), seed=self.seed), rule=self.rule,
            curve_method=self.strategy.curve_method, cost=space.cost)
