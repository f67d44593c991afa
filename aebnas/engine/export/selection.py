"""Which network of a run to export, with which thresholds: a confirmed candidate (the best, or one by
architecture id) or a searched trial, its thresholds as tuned by the run or re-tuned on its stored
validation curve for a new target of average MACs. Read from the run store only: nothing is loaded yet."""

from __future__ import annotations

from dataclasses import dataclass

from aebnas.engine.evaluation import TradeoffCurve, TunedThresholds
from aebnas.engine.search import ConfirmedCandidate, Search, Trial, TrialState
from aebnas.exceptions import AebnasError, UnreachableTargetError
from aebnas.search_space import Architecture


@dataclass(frozen=True)
class Selection:
    """A run's network chosen for export.

    Attributes:
        arch: its architecture.
        thresholds: the validation point exported (thresholds, accuracy, average MACs).
        checkpoint: its weights, relative to the run directory (a confirmed candidate's whole network; a trial's
            whole network in joint mode, its branches in fast mode).
        confirmed: whether it is a confirmed (jointly fine-tuned) candidate.
        source: a line naming it, e.g. ``confirmed 83051ae43852d3c8 of runs/demo``.
    """

    arch: Architecture
    thresholds: TunedThresholds
    checkpoint: str
    confirmed: bool
    source: str


def _at(curve: TradeoffCurve, macs_budget: float, arch_id: str) -> TunedThresholds:
    try:
        return curve.point_at(macs_budget)
    except UnreachableTargetError as err:
        raise UnreachableTargetError(f"{arch_id}: {err}; give a higher --target-macs") from None


def _confirmed(search: Search, candidate: ConfirmedCandidate, target_macs: float | None) -> Selection:
    tuned = candidate.val if target_macs is None else _at(candidate.val_curve, target_macs, candidate.arch_id)
    arch = search.store.trial(candidate.trial_number).arch
    return Selection(arch, tuned, candidate.checkpoint, True, f"confirmed {candidate.arch_id} of {search.run_dir}")


def _trial(search: Search, trial: Trial, target_macs: float | None) -> Selection:
    macs_budget = target_macs
    if macs_budget is None:  # as confirmation does: the trial's MACs budget, at least its cheapest point
        macs_budget = max(trial.macs_budget or search.ref_macs, trial.curve.avg_macs[0].item())
    return Selection(trial.arch, _at(trial.curve, macs_budget, trial.arch_id), trial.checkpoint_path, False,
                     f"trial {trial.number} ({trial.arch_id}) of {search.run_dir}")


def select(search: Search, arch_id: str | None = None, confirmed: str | None = None,
           target_macs: float | None = None) -> Selection:
    """The network of ``search`` to export: the complete trial ``arch_id``, or the confirmed candidate
    ``confirmed`` (an architecture id, or ``best``: the highest validation accuracy, then the fewest average
    MACs). Neither given: the best confirmed. ``target_macs`` re-tunes its thresholds on validation."""
    if arch_id is not None and confirmed is not None:
        raise AebnasError("give either an architecture id (--arch) or a confirmed candidate (--confirmed), not both")
    if search.table is not None:
        raise AebnasError(f"{search.run_dir} searched a benchmark table: it trained no network to export; export "
                          "from a run that trains its candidates")
    run = search.run_dir
    if arch_id is not None:
        trials = [t for t in search.trials(TrialState.COMPLETE) if t.arch_id == arch_id]
        if not trials:
            known = sorted({t.arch_id for t in search.trials(TrialState.COMPLETE)})
            raise AebnasError(f"{run} has no complete trial of architecture {arch_id!r}; its {len(known)} trained "
                              f"architectures: {', '.join(known[:8])}{', ...' if len(known) > 8 else ''} (`aebnas "
                              f"report {run}` lists the front)")
        return _trial(search, trials[0], target_macs)
    done = search.store.confirmed()
    if not done:
        raise AebnasError(f"{run} has no confirmed candidate; confirm the best by rerunning its `aebnas search` "
                          "command with --confirm-top 2 (its trials are kept; only the confirmation trains), or "
                          "export a searched trial with --arch ID")
    if confirmed in (None, "best"):
        reachable = [c for c in done.values() if target_macs is None or c.val_curve.avg_macs[0] <= target_macs]
        if not reachable:
            cheapest = min(c.val_curve.avg_macs[0].item() for c in done.values())
            raise UnreachableTargetError(f"--target-macs {target_macs:,.0f} is below the cheapest validation point of "
                                         f"every confirmed candidate of {run} ({cheapest:,.0f} MACs)")
        options = [_confirmed(search, c, target_macs) for c in reachable]
        return max(options, key=lambda s: (s.thresholds.accuracy, -s.thresholds.avg_macs))
    if confirmed not in done:
        raise AebnasError(f"{run} has no confirmed candidate {confirmed!r}; allowed: best, {', '.join(done)}")
    return _confirmed(search, done[confirmed], target_macs)
