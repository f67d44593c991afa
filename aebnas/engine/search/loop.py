"""The search: an initial design, then rounds of predictor fitting and proposals, each proposal trained
and threshold-tuned, until the predictor budget (trained candidates) is spent; then the best candidates
are confirmed. Every step is stored before the next, so a rerun resumes."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from aebnas.checks import check_output_dir
from aebnas.datasets import DATASETS, DatasetSplits
from aebnas.engine.evaluation import CURVES, CandidateOutputs, FrozenBackbone, TradeoffCurve
from aebnas.engine.execution import Executor, LocalExecutor, TrialJob, TrialOutcome, TrialRunner
from aebnas.engine.search.config import SearchConfig
from aebnas.engine.search.confirm import confirm_trial, confirmation_order, search_network, split_curve, top_trials
from aebnas.engine.search.front import FrontPoint, LabelledCurve, curve_points, hypervolume, pareto_front
from aebnas.engine.search.owner import RunOwner
from aebnas.engine.search.records import ConfirmedCandidate, Trial, TrialMetrics, TrialState
from aebnas.engine.search.store import STORE_FILE, RunStore
from aebnas.engine.search.strategies import ProposalContext
from aebnas.engine.search.surrogate import RunPredictors, load_warm_start
from aebnas.engine.tables import BenchmarkTable, TableRunner, TableSpace, check_local_executor, load_table
from aebnas.exceptions import AebnasError, UnreachableTargetError
from aebnas.predictors import Predictor
from aebnas.engine.profile import check_latency_table
from aebnas.search_space import LatencyCost


class Search:
    """A resumable early-exit architecture search stored in ``run_dir``.

    Use ``run()`` for the whole loop, or ``ask(n)`` / ``tell(...)`` to train candidates your own way.

    Args:
        run_dir: directory of the run store, trial outputs, predictors and report.
        config: the settings (else built from ``settings``: fields of SearchConfig).
        data: already loaded splits (else loaded from ``config.dataset`` with ``data_dir``/``download``).
        table: a benchmark table (loaded, or its path) to search instead of training: its space is the
            table's architectures (:class:`~aebnas.engine.tables.TableSpace`) and every trial is looked
            up; without a ``config``, the settings other than the table's come from ``settings``. With a
            ``config`` whose ``table`` is set, the table already loaded (else read from that path).
        new: start afresh even if ``run_dir`` holds a run with another config.
        progress: show progress bars.
    """

    def __init__(self, run_dir: str | Path | None = None, *, config: SearchConfig | None = None,
                 data: DatasetSplits | None = None, data_dir: str | None = None, download: bool = False,
                 table: BenchmarkTable | str | Path | None = None, new: bool = False, progress: bool = False,
                 **settings: Any) -> None:
        if config is None:
            fields = [f.name for f in dataclasses.fields(SearchConfig)]
            unknown = sorted(set(settings) - set(fields))
            if unknown:
                raise AebnasError(f"unknown search setting(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
            if isinstance(table, (str, Path)):
                table = load_table(table)
            # against a table: the table's training settings, the rest as given
            config = SearchConfig.for_table(table, **settings) if table is not None else SearchConfig(**settings)
        elif settings:
            raise AebnasError("give a Search either a config or settings, not both")
        elif table is not None and config.table is None:
            raise AebnasError("a table was given with a config that searches none; make the config with "
                              "SearchConfig.for_table(table, ...)")
        self.config = c = config
        self.run_dir = check_output_dir(run_dir or f"runs/{c.dataset}-{c.space}-seed{c.seed}", "run directory")
        self.info = DATASETS.get(c.dataset).info
        self.space = c.make_space(self.info)
        self.table = None
        if c.table is not None:
            self.table = table if isinstance(table, BenchmarkTable) else load_table(c.table)
            self.table.check_search(c.identity(), c.strategy.curve_method)
            self.space = TableSpace(self.space, self.table.architectures)
        if isinstance(self.space.cost, LatencyCost):
            check_latency_table(self.space.cost.table, self.space, c.rule)
        self._check_target()
        warm_source = load_warm_start(self.space, c.warm_start_predictor) if c.warm_start_predictor else None
        self.owner = RunOwner(self.run_dir)
        if new or not (self.run_dir / STORE_FILE).exists():
            self.owner.claim()  # creating or replacing the store is a write: only the run's owner may
        self.store = RunStore.open(self.run_dir, c.identity(), new=new)  # only now, with every setting checked
        self.progress = progress
        if self.table is not None:
            self.runner = TableRunner(self.table, c.trial_settings(self.space), c.seed)
        else:
            self.runner = TrialRunner(c.trial_settings(self.space), self.run_dir, data_dir, download, data=data,
                                      holdout_size=c.holdout_size)
        self._data_dir, self._download = data_dir, download
        self.predictors = RunPredictors(self.space, c.dataset, c.predictor, c.seed, self.ref_macs, warm_source)

    def _check_target(self) -> None:
        """Refuses a target below what every exit path costs: the backbone up to the first exit position."""
        target = self.config.target_macs
        if target is None:
            return
        floor = sum(self.space.stage_costs[:self.space.positions[0]])
        if target < floor:
            cost = self.space.cost
            raise UnreachableTargetError(
                f"target average {cost.format(target)} is below the backbone's cost up to its first exit position "
                f"({cost.format(floor)}), which every exit path includes; give a target of at least "
                f"{cost.format(floor)}")

    @classmethod
    def open(cls, run_dir: str | Path, **kwargs: Any) -> "Search":
        """The search stored in an existing ``run_dir``, with its stored settings."""
        if not (Path(run_dir) / STORE_FILE).is_file():
            raise AebnasError(f"{run_dir} holds no aebnas run (no {STORE_FILE}); start one with `aebnas search --run-dir`")
        store = RunStore.open(run_dir)
        identity = store.config
        store.close()
        if identity is None:
            raise AebnasError(f"{run_dir}/{STORE_FILE} holds no run config; start the run again with `aebnas search`")
        return cls(run_dir, config=SearchConfig.from_identity(identity), **kwargs)

    def close(self) -> None:
        """Closes the store and gives up ownership of the run directory (another process may then resume it)."""
        self.store.close()
        self.owner.release()

    def __enter__(self) -> "Search":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- what the run is measured against -------------------------------------------------------
    @property
    def data(self) -> DatasetSplits:
        if self.table is not None:
            raise AebnasError("a search against a benchmark table loads no data")
        return self.runner.data

    @property
    def backbone(self) -> FrozenBackbone:
        if self.table is not None:
            raise AebnasError("a search against a benchmark table trains no backbone")
        return self.runner.backbone(self.progress)

    @functools.cached_property
    def ref_macs(self) -> float:
        """Cost (MACs, or ms with a latency cost) of the hypervolume reference and the cap on proposed MACs
        budgets: the target, or the backbone alone (an early-exit network costlier on average than the
        backbone is no gain)."""
        if self.config.target_macs is not None:
            return float(self.config.target_macs)
        return self.space.backbone_cost

    @property
    def ref_accuracy(self) -> float:
        """Accuracy of the hypervolume reference: chance level."""
        return 1.0 / self.info.num_classes

    # -- trials and the front --------------------------------------------------------------------
    def trials(self, *states: TrialState) -> list[Trial]:
        return self.store.trials(*states)

    def front(self, trials: list[Trial] | None = None) -> list[FrontPoint]:
        """The validation Pareto front over every (given) complete trial's curve, within the target if any."""
        trials = trials if trials is not None else self.trials(TrialState.COMPLETE)
        return pareto_front(curve_points(_labelled(trials), self.config.target_macs))

    def hypervolume(self, trials: list[Trial] | None = None) -> float:
        """Hypervolume of the validation front in (accuracy, 1 - avg MACs / ref MACs)."""
        return hypervolume(self.front(trials), self.ref_macs, self.ref_accuracy)

    # -- ask and tell ---------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Trial]:
        """Stores and returns ``n`` new pending trials from the strategy (the initial design first)."""
        if n < 1:
            raise AebnasError(f"ask needs n >= 1; got {n}")
        self.owner.claim()
        trials = self.trials()
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        context = ProposalContext(
            space=self.space, complete=complete,
            pending=[t for t in trials if t.state in (TrialState.PENDING, TrialState.RUNNING)],
            exclude=frozenset(t.arch_id for t in trials),
            rng=np.random.default_rng([self.config.seed, len(trials)]), seed=self.config.seed,
            num_trials=len(trials), initial_design=self.config.initial_design, ref_macs=self.ref_macs,
            ref_accuracy=self.ref_accuracy, front_trials=frozenset(p.trial_number for p in self.front(complete)),
            fit_predictor=functools.partial(self.predictors.fit, complete))
        batch = self.config.strategy.propose(context, n)
        if batch.predictor is not None:
            self._snapshot(batch.predictor, len(complete))
        if not batch.proposals:
            raise AebnasError(f"the search space has no untried architecture whose cheapest exit fits within "
                              f"{self.space.cost.format(self.ref_macs)} (the target, or the backbone alone)")
        return self.store.add_trials([(p.arch, p.source, p.macs_budget, p.predicted) for p in batch.proposals],
                                     self.config.seed)

    def _snapshot(self, predictor: Predictor, num_complete: int) -> None:
        """Saves the predictor a proposal was made with, under RUN_DIR/predictors, and records it."""
        path = predictor.save(self.run_dir / "predictors" / f"after-{num_complete}-trials.json")
        self.store.add_predictor(num_complete, predictor.kind, str(path.relative_to(self.run_dir)))

    def tell(self, trial: Trial | int, outputs: CandidateOutputs | None = None, *, curve: TradeoffCurve | None = None,
             error: str | None = None, train_seconds: float | None = None) -> Trial:
        """Records the result of a trial: its validation/test exit ``outputs`` (the curve is computed
        from them), or a validation ``curve`` directly, or an ``error`` (the trial failed)."""
        return self._record(trial, outputs, curve, error, train_seconds)

    def _record(self, trial: Trial | int, outputs: CandidateOutputs | None, curve: TradeoffCurve | None,
                error: str | None, train_seconds: float | None, costs=None, outputs_path: str | None = None,
                checkpoint_path: str | None = None, exit_accuracy: tuple[tuple, tuple] = ((), ())) -> Trial:
        self.owner.claim()
        number = trial if isinstance(trial, int) else trial.number
        trial = self.store.trial(number)
        if trial.state == TrialState.COMPLETE:
            raise AebnasError(f"trial {number} is already complete")
        if error is not None:
            return self.store.fail(number, error)
        costs = costs or self.space.costs(trial.arch)
        exit_val, exit_test = exit_accuracy
        if outputs is not None:
            if outputs.val.num_exits != trial.arch.num_exits:
                raise AebnasError(f"outputs have {outputs.val.num_exits} exits; trial {number} has {trial.arch.num_exits}")
            if curve is None:
                curve = CURVES.get(self.config.strategy.curve_method)(outputs.val, costs.paths, self.config.rule)
            exit_val, exit_test = outputs.val.exit_accuracy().tolist(), outputs.test.exit_accuracy().tolist()
        if curve is None:
            raise AebnasError("tell needs exit outputs, a trade-off curve, or an error")
        target = self.config.target_macs
        metrics = TrialMetrics(exit_val, exit_test,
                               curve.accuracy_at(trial.macs_budget) if trial.macs_budget is not None else None,
                               curve.accuracy_at(target) if target is not None else None)
        return self.store.complete(number, costs.paths, metrics, curve, outputs_path, checkpoint_path, train_seconds)

    def record(self, outcome: TrialOutcome) -> Trial:
        """Stores a finished job: outputs and weights under RUN_DIR/trials/N, the trial complete (or failed).
        A table look-up has neither: its curve and exit accuracies are stored."""
        self.owner.claim()
        if outcome.error is not None:
            return self.store.fail(outcome.number, outcome.error)
        if outcome.outputs is None:
            return self._record(outcome.number, None, outcome.curve, None, outcome.train_seconds, outcome.costs,
                                exit_accuracy=(outcome.exit_accuracy_val, outcome.exit_accuracy_test))
        folder = self.run_dir / "trials" / str(outcome.number)
        folder.mkdir(parents=True, exist_ok=True)
        outcome.outputs.save(folder / "outputs.pt")
        torch.save(outcome.weights, folder / "model.pt")
        return self._record(outcome.number, outcome.outputs, outcome.curve, None, outcome.train_seconds, outcome.costs,
                            str((folder / "outputs.pt").relative_to(self.run_dir)),
                            str((folder / "model.pt").relative_to(self.run_dir)))

    def job(self, trial: Trial) -> TrialJob:
        """The picklable job that trains ``trial`` on any executor."""
        return TrialJob(trial.number, trial.arch, self.runner.settings, str(self.run_dir), self._data_dir,
                        self._download)

    # -- the loop -------------------------------------------------------------------------------
    def _used(self) -> int:
        return self.store.count(TrialState.COMPLETE, TrialState.FAILED)

    def run(self, callback: Callable[[Trial], None] | None = None, executor: Executor | None = None) -> list[Trial]:
        """Runs (or resumes) the search until ``budget`` trials are trained, then confirms the top
        ``confirm_top``. Returns the complete trials. ``callback`` sees each finished trial.

        ``executor`` (default: in-process) trains the trials; it is kept full: with the local executor
        a batch of ``batch_size`` is proposed at once, with several workers a proposal is made whenever
        one frees up, the trials in flight being pending points of the acquisition. An executor passed
        in stays open (close it, or use ``with``)."""
        c = self.config
        self.owner.claim()  # before anything is trained or written: a second search on this run is refused
        if self.table is not None:
            check_local_executor(executor.name if executor is not None else LocalExecutor.name)
            self.table.check_search(c.identity(), c.strategy.curve_method, c.budget)
        self.runner.prepare(self.progress)  # fast mode: the backbone, trained once, before any worker needs it
        own = executor is None
        executor = LocalExecutor() if own else executor
        executor.start(self.runner, c.batch_size)
        in_flight: dict[Any, Trial] = {}
        bar = tqdm(total=c.budget, initial=min(self._used(), c.budget), desc="search", disable=not self.progress)
        front = self.front() if self.progress else []  # kept up to date trial by trial, for the progress bar
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
                    if self.progress and done.curve is not None:
                        front = pareto_front(front + curve_points(_labelled([done]), c.target_macs))
                        hv = hypervolume(front, self.ref_macs, self.ref_accuracy)
                        bar.set_postfix(front=len(front), hv=f"{hv:.4f}",
                                        best=f"{max((p.accuracy for p in front), default=0):.3f}")
                    if callback is not None:
                        callback(done)
        finally:
            bar.close()
            for trial in in_flight.values():  # interrupted: retried on resume
                self.store.mark_pending(trial.number)
            if own:
                executor.close()
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
    def confirm(self, k: int) -> dict[str, ConfirmedCandidate]:
        """Confirms the top ``k`` complete trials (:func:`aebnas.engine.search.confirm.confirm_trial`) that
        are not confirmed yet; returns every confirmed candidate by architecture id. With a holdout split
        (``holdout_size``), the top ``2k`` by validation are re-ranked on the holdout with their search
        weights, and the confirmed networks' thresholds are tuned on it: validation, which the search
        selected on, overrates the networks it selected."""
        c = self.config
        self.owner.claim()
        done = self.store.confirmed()
        top = top_trials(self.trials(TrialState.COMPLETE), k if c.holdout_size is None else 2 * k, c.target_macs,
                         self.ref_macs, self.ref_accuracy)
        if c.holdout_size is not None:
            top = self.rerank_on_holdout(top, k)
        data = self.data if c.holdout_size is not None else dataclasses.replace(self.data, holdout=None)
        for trial in tqdm(top, desc="confirm", disable=not self.progress):
            if trial.arch_id in done:
                continue
            result = confirm_trial(
                trial, self.space.costs(trial.arch), data, self.search_weights(trial), self._fast_backbone,
                c.train_config(c.confirm_epochs, c.confirm_lr, self.progress), c.rule, c.strategy.curve_method,
                c.target_macs, self.run_dir / "confirmed" / trial.arch_id, self.run_dir)
            self.store.add_confirmed(result)
        return self.store.confirmed()

    @property
    def _fast_backbone(self) -> FrozenBackbone | None:
        return self.backbone if self.config.mode == "fast" else None

    def search_weights(self, trial: Trial) -> dict[str, torch.Tensor]:
        """The weights ``trial`` was trained to in the search (fast mode: its branches; joint: the network)."""
        return torch.load(self.run_dir / trial.checkpoint_path, map_location="cpu", weights_only=True)

    def rerank_on_holdout(self, trials: list[Trial], k: int) -> list[Trial]:
        """The ``k`` of ``trials`` that confirmation takes (:func:`~aebnas.engine.search.confirm.confirmation_order`)
        by their curves on the holdout split of the search's data, measured with their search weights."""
        c, data = self.config, self.data
        if data.holdout is None:
            raise AebnasError(f"holdout_size={c.holdout_size} but the splits given to the search hold no holdout; "
                              f"load them with load_dataset(..., holdout_size={c.holdout_size})")
        curves = []
        for trial in trials:
            model = search_network(trial, data.info, self.search_weights(trial), self._fast_backbone)
            curve = split_curve(model, data.holdout, self.space.costs(trial.arch), c.rule, c.strategy.curve_method,
                                c.device)
            curves.append((trial.number, trial.arch_id, curve))
        order = confirmation_order(curves, k, c.target_macs, self.ref_macs, self.ref_accuracy)
        by_number = {t.number: t for t in trials}
        return [by_number[n] for n in order]


def _labelled(trials: list[Trial]) -> list[LabelledCurve]:
    return [(t.number, t.arch_id, t.curve) for t in trials if t.curve is not None]
