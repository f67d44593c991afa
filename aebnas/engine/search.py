"""The search: an initial design, then rounds of predictor fitting and qLogNEHVI proposals, each
proposal trained and threshold-tuned, until the predictor budget (trained candidates) is spent; then
the best candidates are confirmed by joint training. Every step is stored, so a rerun resumes."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from aebnas.datasets import DATASETS, DatasetSplits
from aebnas.engine.executors import Executor, LocalExecutor
from aebnas.engine.fast import FrozenBackbone, full_outputs
from aebnas.engine.front import FrontPoint, contributions, curve_points, hypervolume, pareto_front
from aebnas.engine.macs import count_macs, path_costs
from aebnas.engine.outputs import CandidateOutputs, ExitOutputs
from aebnas.engine.proposer import ACQUISITIONS
from aebnas.engine.store import STORE_FILE, RunStore, Trial, TrialState
from aebnas.engine.strategies import STRATEGIES, ProposalContext, paper_grid_curve
from aebnas.engine.thresholds import TradeoffCurve, tradeoff_curve
from aebnas.engine.training import TrainConfig, train_joint
from aebnas.engine.worker import TrialJob, TrialOutcome, TrialRunner
from aebnas.exceptions import AebnasError
from aebnas.predictors import (PREDICTORS, Predictor, create_predictor, curve_rows, feature_names, load_predictor,
                               schema_metadata, warm_start)
from aebnas.search_space.space import SPACE_VERSION
from aebnas.search_space import SearchSpace, build
from aebnas.search_space.model import build_backbone

@dataclass(frozen=True)
class SearchConfig:
    """Settings of a search. ``identity()`` is what a resumed run must share with the stored one."""

    dataset: str = "digits"
    space: str = "extended"
    budget: int = 20
    batch_size: int = 4
    n_init: int | None = None
    strategy: str = "bo"
    predictor: str = "xgboost"
    acquisition: str = "qlognehvi"
    mode: str = "fast"
    epochs: int = 15
    backbone_epochs: int = 15
    train_batch_size: int = 64
    lr: float = 0.05
    target_macs: float | None = None
    min_accuracy: float | None = None
    pool_size: int = 500
    rule: str = "margin"
    backbone: str | None = None
    backbone_options: dict[str, Any] | None = None
    max_exits: int = 4
    val_size: int | None = None
    max_train: int | None = None
    seed: int = 0
    confirm_top: int = 2
    confirm_epochs: int = 10
    confirm_lr: float = 0.01
    warm_start_predictor: str | None = None
    retries: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        DATASETS.get(self.dataset)
        PREDICTORS.get(self.predictor)
        checks = [
            (self.budget >= 1, f"budget must be >= 1 trained candidate; got {self.budget}"),
            (self.batch_size >= 1, f"batch size must be >= 1; got {self.batch_size}"),
            (self.n_init is None or self.n_init >= 2, f"n_init must be >= 2 (a predictor needs data); got {self.n_init}"),
            (self.strategy in STRATEGIES, f"unknown strategy {self.strategy!r}; allowed: {', '.join(STRATEGIES.names())}"),
            (self.acquisition in ACQUISITIONS, f"unknown acquisition {self.acquisition!r}; allowed: {', '.join(ACQUISITIONS)}"),
            (self.mode in ("fast", "joint"), f"unknown mode {self.mode!r}; allowed: fast, joint"),
            (self.target_macs is None or self.target_macs > 0, f"target MACs must be positive; got {self.target_macs}"),
            (self.min_accuracy is None or 0 <= self.min_accuracy < 1, f"min accuracy must be in [0, 1); got {self.min_accuracy}"),
            (self.confirm_top >= 0, f"confirm_top must be >= 0; got {self.confirm_top}"),
        ]
        for ok, message in checks:
            if not ok:
                raise AebnasError(message)

    @property
    def initial_design(self) -> int:
        """Trials of the initial design: ``n_init``, or half the budget (at least 2 batches' worth, at most the budget)."""
        return min(self.budget, self.n_init or max(2 * self.batch_size, self.budget // 2))

    def identity(self) -> dict[str, Any]:
        """Settings that decide the trials: a rerun may change budget, confirmation and device, not these."""
        skip = {"budget", "confirm_top", "confirm_epochs", "confirm_lr", "retries", "device"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}

    def train_config(self, epochs: int | None = None, lr: float | None = None, progress: bool = False) -> TrainConfig:
        return TrainConfig(epochs=epochs or self.epochs, batch_size=self.train_batch_size, lr=lr or self.lr,
                           seed=self.seed, device=self.device, progress=progress)


class Search:
    """A resumable early-exit architecture search stored in ``run_dir``.

    Use ``run()`` for the whole loop, or ``ask(n)`` / ``tell(...)`` to train candidates your own way.

    Args:
        run_dir: directory of the run store, trial outputs, predictors and report.
        data: already loaded splits (else loaded from ``config.dataset`` with ``data_dir``/``download``).
        new: start afresh even if ``run_dir`` holds a run with another config.
        progress: show progress bars.
        **settings: fields of SearchConfig (dataset, space, budget, batch_size, ...).
    """

    def __init__(self, run_dir: str | Path | None = None, *, data: DatasetSplits | None = None,
                 data_dir: str | None = None, download: bool = False, new: bool = False, progress: bool = False,
                 **settings: Any) -> None:
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(SearchConfig)})
        if unknown:
            raise AebnasError(f"unknown search setting(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(f.name for f in dataclasses.fields(SearchConfig))}")
        self.config = SearchConfig(**settings)
        c = self.config
        self.run_dir = Path(run_dir or f"runs/{c.dataset}-{c.space}-seed{c.seed}")
        self.info = DATASETS.get(c.dataset).info
        self.space = SearchSpace.for_dataset(self.info, c.space, backbone=c.backbone,
                                             backbone_options=c.backbone_options, max_exits=c.max_exits)
        self.store = RunStore.open(self.run_dir, self.config.identity(), new=new)
        self.progress = progress
        self._data, self._data_dir, self._download = data, data_dir, download
        self._warm_start = self.load_warm_start()

    @classmethod
    def open(cls, run_dir: str | Path, **kwargs: Any) -> "Search":
        """The search stored in an existing ``run_dir``, with its stored settings."""
        if not (Path(run_dir) / STORE_FILE).is_file():
            raise AebnasError(f"{run_dir} holds no aebnas run (no {STORE_FILE}); start one with `aebnas search --run-dir`")
        store = RunStore.open(run_dir)
        settings = store.config or {}
        store.close()
        return cls(run_dir, **settings, **kwargs)

    # -- lazily prepared resources (shared with the in-process runner) ----------------------------
    @property
    def data(self) -> DatasetSplits:
        return self.runner.data

    @property
    def backbone(self) -> FrozenBackbone:
        return self.runner.backbone(self.progress)

    @functools.cached_property
    def ref_macs(self) -> float:
        """MACs of the hypervolume reference and the cap on proposed budgets: the target, or the
        backbone alone (an early-exit network costlier on average than the backbone is no gain)."""
        if self.config.target_macs is not None:
            return float(self.config.target_macs)
        net = build_backbone(self.space.backbone, self.space.backbone_options, self.info)
        return float(count_macs(net, self.info.input_shape))

    @property
    def ref_accuracy(self) -> float:
        """Accuracy of the hypervolume reference: chance level."""
        return 1.0 / self.info.num_classes

    def load_warm_start(self, path: str | None = None) -> Predictor | None:
        """The warm-start source predictor at ``path`` (default: the configured one), checked against this space."""
        path = path or self.config.warm_start_predictor
        if path is None:
            return None
        expect = {"space": {"preset": self.space.name, "version": SPACE_VERSION}, "feature_names": feature_names(self.space)}
        return load_predictor(path, expect=expect)

    # -- trials -------------------------------------------------------------------------------
    def trials(self, *states: TrialState) -> list[Trial]:
        return self.store.trials(*states)

    def _used(self) -> int:
        return len(self.trials(TrialState.COMPLETE, TrialState.FAILED))

    def front(self, max_macs: float | None = None) -> list[FrontPoint]:
        """Validation Pareto front over every complete trial (within the target, if any)."""
        limit = max_macs if max_macs is not None else self.config.target_macs
        return pareto_front(curve_points(self.trials(TrialState.COMPLETE), limit))

    def hypervolume(self, trials: Sequence[Trial] | None = None) -> float:
        trials = self.trials(TrialState.COMPLETE) if trials is None else trials
        return hypervolume(pareto_front(curve_points(trials, self.config.target_macs)), self.ref_macs, self.ref_accuracy)

    # -- ask / tell -----------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Trial]:
        """Proposes ``n`` new architectures (each with the budget it is proposed for) with the run's
        strategy and records them as pending trials."""
        if n < 1:
            raise AebnasError(f"ask needs n >= 1; got {n}")
        existing = self.trials()
        context = ProposalContext(
            complete=[t for t in existing if t.state == TrialState.COMPLETE],
            pending=[t for t in existing if t.state in (TrialState.PENDING, TrialState.RUNNING)],
            exclude={t.arch_id for t in existing},
            rng=np.random.default_rng([self.config.seed, len(existing)]),
            num_trials=len(existing),
        )
        proposals = STRATEGIES.get(self.config.strategy)().propose(self, n, context)
        if not proposals:
            raise AebnasError(f"the search space has no untried architecture whose cheapest exit fits within "
                              f"{self.ref_macs:,.0f} MACs (the target, or the backbone alone)")
        trials = []
        for proposal, source in proposals:
            predicted = None
            if proposal.predicted_mean is not None:
                predicted = {"mean": proposal.predicted_mean, "std": proposal.predicted_std}
            trials.append(self.store.add_trial(proposal.arch, source, self.config.seed, proposal.budget, predicted))
        return trials

    def training_rows(self, complete: Sequence[Trial] | None = None, grid: str = "relative"):
        """Predictor rows (``CurveRows``) from complete trials' validation curves: ``grid="relative"`` for
        fitting, ``"shared"`` for fixed-budget metrics (budgets up to the reference MACs, the range the
        search asks the predictor about)."""
        complete = self.trials(TrialState.COMPLETE) if complete is None else complete
        curves = [TradeoffCurve.from_dict(t.curve) for t in complete]
        return curve_rows(self.space, [t.arch for t in complete], None, curves, grid=grid,
                          max_budget=self.ref_macs if isinstance(grid, str) and grid == "shared" else None)

    def fit_predictor(self, complete: Sequence[Trial] | None = None, kind: str | None = None,
                      warm_start_from: Predictor | None = None, snapshot: bool = False) -> tuple[Predictor, np.ndarray]:
        """Fits a predictor (the configured kind and warm start unless given) on every complete trial's
        curve rows; returns it and the `n x d` rows. ``snapshot``: save it in the run and the store."""
        complete = self.trials(TrialState.COMPLETE) if complete is None else complete
        rows = self.training_rows(complete)
        predictor = self.new_predictor(kind, warm_start_from).fit(rows.X, rows.y, rows.groups)
        predictor.metadata.update(schema_metadata(self.space, rows.names, dataset=self.config.dataset,
                                                  num_trials=len(complete)))
        if snapshot:
            path = predictor.save(self.run_dir / "predictors" / f"after-{len(complete)}-trials.json")
            self.store.add_predictor(len(complete), predictor.kind, str(path.relative_to(self.run_dir)))
        return predictor, rows.X

    def new_predictor(self, kind: str | None = None, warm_start_from: Predictor | None = None) -> Predictor:
        """An unfitted predictor (default: the configured kind, stacked on the warm-start source if any)."""
        predictor = create_predictor(kind or self.config.predictor, seed=self.config.seed)
        source = warm_start_from or self._warm_start
        return predictor if source is None else warm_start(source, predictor)

    def tell(self, trial: Trial | int, outputs: CandidateOutputs | None = None, *, curve: TradeoffCurve | None = None,
             error: str | None = None, metrics: dict[str, Any] | None = None, train_seconds: float | None = None,
             outputs_path: str | None = None, checkpoint_path: str | None = None) -> Trial:
        """Records the result of a trial: its validation/test exit ``outputs`` (the curve is computed
        from them), or a validation ``curve`` directly, or an ``error`` (the trial failed)."""
        number = trial if isinstance(trial, int) else trial.number
        trial = self.store.trial(number)
        if trial.state == TrialState.COMPLETE:
            raise AebnasError(f"trial {number} is already complete")
        if error is not None:
            return self.store.fail(number, error)
        costs = path_costs(trial.arch, self.info.input_shape, self.info.num_classes)
        metrics = dict(metrics or {})
        if outputs is not None:
            if outputs.val.num_exits != trial.arch.num_exits:
                raise AebnasError(f"outputs have {outputs.val.num_exits} exits; trial {number} has {trial.arch.num_exits}")
            curve = self.tradeoff_curve(outputs.val, costs.paths)
            metrics.setdefault("exit_accuracy_val", outputs.val.exit_accuracy().tolist())
            metrics.setdefault("exit_accuracy_test", outputs.test.exit_accuracy().tolist())
        if curve is None:
            raise AebnasError("tell needs exit outputs, a trade-off curve, or an error")
        if trial.budget is not None:
            metrics["accuracy_at_budget"] = curve.accuracy_at(trial.budget)
        if self.config.target_macs is not None:
            metrics["accuracy_at_target"] = curve.accuracy_at(self.config.target_macs)
        return self.store.complete(number, costs.paths, _finite(metrics), curve.to_dict(), outputs_path,
                                   checkpoint_path, train_seconds)

    def tradeoff_curve(self, outputs: ExitOutputs, costs: Sequence[float]) -> TradeoffCurve:
        """A trained network's curve on ``outputs`` (`n x exits x classes`): fine-grained thresholds, or only
        the paper grid {0.1, 0.2, 1}^exits for a strategy whose ``thresholds`` is "grid" (``paper``)."""
        if getattr(STRATEGIES.get(self.config.strategy), "thresholds", "fine") == "grid":
            return paper_grid_curve(outputs, costs, self.config.rule)
        return tradeoff_curve(outputs, costs, self.config.rule)

    # -- the loop -------------------------------------------------------------------------------
    @functools.cached_property
    def runner(self) -> TrialRunner:
        """Trains this run's trials in this process, sharing its data and backbone."""
        return TrialRunner(self.config.identity() | {"device": self.config.device}, self.run_dir,
                           self._data_dir, self._download, data=self._data)

    def job(self, trial: Trial) -> TrialJob:
        """The picklable job that trains ``trial`` on any executor."""
        return TrialJob(trial.number, trial.arch.to_json(), self.config.identity() | {"device": self.config.device},
                        str(self.run_dir), self._data_dir, self._download)

    def record(self, outcome: TrialOutcome) -> Trial:
        """Stores a finished job: outputs and weights under RUN_DIR/trials/N, the trial complete (or failed)."""
        if outcome.error is not None:
            return self.store.fail(outcome.number, outcome.error)
        folder = self.run_dir / "trials" / str(outcome.number)
        folder.mkdir(parents=True, exist_ok=True)
        outcome.outputs.save(folder / "outputs.pt")
        torch.save(outcome.weights, folder / "model.pt")
        return self.tell(outcome.number, outcome.outputs, train_seconds=outcome.train_seconds,
                         outputs_path=str((folder / "outputs.pt").relative_to(self.run_dir)),
                         checkpoint_path=str((folder / "model.pt").relative_to(self.run_dir)))

    def evaluate(self, trial: Trial) -> Trial:
        """Trains and tunes one stored trial in this process and records the result."""
        self.store.mark_running(trial.number)
        try:
            outcome = self.runner.run(self.job(trial))
        except BaseException:
            self.store.mark_pending(trial.number)  # interrupted: retried on resume
            raise
        return self.record(outcome)

    def run(self, callback: Callable[[Trial], None] | None = None, executor: Executor | None = None) -> list[Trial]:
        """Runs (or resumes) the search until ``budget`` trials are trained, then confirms the top
        ``confirm_top``. Returns the complete trials. ``callback`` sees each finished trial.

        ``executor`` (default: in-process) trains the trials; it is kept full: with the local executor
        a batch of ``batch_size`` is proposed at once, with several workers a proposal is made whenever
        one frees up, the trials in flight being pending points of the acquisition."""
        c = self.config
        if c.mode == "fast":
            self.runner.backbone(self.progress)  # trained once, here, before any worker needs it
        executor = executor or LocalExecutor(self.runner, capacity=c.batch_size)
        in_flight: dict[Any, Trial] = {}
        bar = tqdm(total=c.budget, initial=min(self._used(), c.budget), desc="search", disable=not self.progress)
        try:
            while True:
                # trials left pending or running (by an interruption or a crash) go first, so a resumed
                # run proposes from the same trials as an uninterrupted one
                busy = {t.number for t in in_flight.values()}
                todo = [t for t in self.trials(TrialState.PENDING, TrialState.RUNNING) if t.number not in busy]
                free = executor.capacity - len(in_flight)
                room = c.budget - self._used() - len(in_flight)
                refill = executor.asynchronous or not in_flight  # in-process: whole batches only
                if not todo and refill and free > 0 and room > 0:
                    todo = self.ask(min(free, room))
                for trial in todo[:max(free, 0)]:
                    self.store.mark_running(trial.number)
                    in_flight[executor.submit(self.job(trial))] = trial
                if not in_flight:
                    break
                for handle, outcome in executor.wait(list(in_flight)):
                    trial = in_flight.pop(handle)
                    done = self._settle(trial, outcome)
                    bar.update(done.state != TrialState.PENDING)
                    front = self.front()
                    bar.set_postfix(front=len(front), hv=f"{self.hypervolume():.4f}",
                                    best=f"{max((p.accuracy for p in front), default=0):.3f}")
                    if callback is not None:
                        callback(done)
        finally:
            bar.close()
            for trial in in_flight.values():  # interrupted: retried on resume
                self.store.mark_pending(trial.number)
        if c.confirm_top:
            self.confirm(c.confirm_top)
        return self.trials(TrialState.COMPLETE)

    def _settle(self, trial: Trial, outcome: TrialOutcome | BaseException) -> Trial:
        """Records an outcome; a job that died (not a training error) is retried up to ``retries`` times."""
        if isinstance(outcome, TrialOutcome):
            return self.record(outcome)
        attempts = self.store.trial(trial.number).attempts
        if attempts <= self.config.retries:
            self.store.mark_pending(trial.number)
            return self.store.trial(trial.number)
        return self.store.fail(trial.number, f"{type(outcome).__name__}: {outcome} (after {attempts} attempts)")

    # -- confirmation ---------------------------------------------------------------------------
    def top_trials(self, k: int) -> list[Trial]:
        """The ``k`` best complete trials: by validation accuracy at the target if there is one, else by
        exclusive hypervolume contribution to the front."""
        complete = {t.number: t for t in self.trials(TrialState.COMPLETE)}
        if self.config.target_macs is not None:
            scored = {n: t.metrics.get("accuracy_at_target") for n, t in complete.items()}
            scored = {n: s for n, s in scored.items() if s is not None}
        else:
            scored = contributions(curve_points(complete.values()), self.ref_macs, self.ref_accuracy)
        ranked = sorted(scored, key=lambda n: (-scored[n], n))
        return [complete[n] for n in ranked[:k]]

    def confirm(self, k: int) -> dict[str, dict[str, Any]]:
        """Fine-tunes the top ``k`` trials jointly, tunes thresholds on validation (at the target, or
        at the trial's budget), reports test metrics and checks them by real early-exit inference."""
        done = self.store.confirmed()
        for trial in tqdm(self.top_trials(k), desc="confirm", disable=not self.progress):
            if trial.arch_id not in done:
                self.store.add_confirmed(trial.arch_id, trial.number, self._confirm_one(trial))
        return self.store.confirmed()

    def _confirm_one(self, trial: Trial) -> dict[str, Any]:
        c = self.config
        model = build(trial.arch, self.info)
        state = torch.load(self.run_dir / trial.checkpoint_path, map_location="cpu", weights_only=True)
        if c.mode == "fast":
            model.stages.load_state_dict(self.backbone.model.stages.state_dict())
            model.head.load_state_dict(self.backbone.model.head.state_dict())
            model.branches.load_state_dict(state)
        else:
            model.load_state_dict(state)
        history = train_joint(model, self.data.train, self.info,
                              c.train_config(c.confirm_epochs, c.confirm_lr, self.progress), desc="confirm")
        outputs = full_outputs(model, self.data, c.device)
        costs = path_costs(trial.arch, self.info.input_shape, self.info.num_classes)
        curve = self.tradeoff_curve(outputs.val, costs.paths)
        budget = c.target_macs if c.target_macs is not None else trial.budget
        budget = max(budget, curve.avg_macs[0].item())
        tuned = curve.point_at(budget)
        test = tuned.apply(outputs.test, costs.paths)
        preds, exits = model.cpu().eval().infer(self.data.test.x, tuned.thresholds, c.rule)
        real_accuracy = (preds == self.data.test.y).double().mean().item()
        real_fractions = torch.bincount(exits, minlength=trial.arch.num_exits).double() / len(exits)
        real_macs = float(real_fractions @ torch.tensor(costs.paths, dtype=torch.float64))
        folder = self.run_dir / "confirmed" / trial.arch_id
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), folder / "model.pt")
        (folder / "arch.json").write_text(trial.arch.to_json(indent=2))
        test_curve = [tuned_point.apply(outputs.test, costs.paths) for tuned_point in
                      (curve.point_at(m) for m in curve.avg_macs.tolist())]
        return {
            "budget": budget, "val": tuned.to_dict(), "test": test.to_dict(),
            "real_inference": {"accuracy": real_accuracy, "avg_macs": real_macs, "exit_fractions": real_fractions.tolist()},
            "verified": abs(real_accuracy - test.accuracy) < 1e-9 and abs(real_macs - test.avg_macs) <= 1e-6 * real_macs,
            "val_curve": curve.to_dict(),
            "test_curve": {"avg_macs": [p.avg_macs for p in test_curve], "accuracy": [p.accuracy for p in test_curve]},
            "path_macs": list(costs.paths), "epochs": c.confirm_epochs, "train_seconds": history.seconds,
            "checkpoint": str((folder / "model.pt").relative_to(self.run_dir)),
        }


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe metrics: NaN (e.g. accuracy below a curve's cheapest point) becomes None."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
