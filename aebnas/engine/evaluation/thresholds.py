"""Exit thresholds: exact accuracy and average MACs of threshold vectors from cached exit outputs, the
accuracy-vs-average-MACs trade-off curve of a trained network (fine-grained, or on the AEBNAS paper's
grid), and tuning thresholds to a MACs target.

Conventions: a sample leaves at the first early exit ``k`` with ``score[k] >= thresholds[k]`` (+inf never
leaves), else at the final exit. ``costs`` holds the exact MACs of leaving at each exit (cumulative path
costs, increasing). Thresholds are float32 like the scores; accuracy, average MACs and exit fractions are
float64, so MACs in the tens of millions stay exact and ``avg_macs <= target`` means what it says.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from aebnas.engine.evaluation.outputs import ExitOutputs
from aebnas.exceptions import AebnasError, UnreachableTargetError
from aebnas.exit_rules import first_exit
from aebnas.registry import Registry

PAPER_GRID = (0.1, 0.2, 1.0)
"""The AEBNAS paper's per-exit threshold values; 1.0 means "never exit there" and is mapped to +inf."""
SCORINGS = ("constraint", "paper")
_CHUNK_ELEMENTS = 1 << 24  # bound on the `m x n x exits` work tensors of evaluate_scores

Costs = Union[Tensor, Sequence[float]]
Objective = Callable[["ThresholdMetrics"], Tensor]


# ---------------------------------------------------------------------------------------------------------
# Evaluating threshold vectors


@dataclass(frozen=True)
class ThresholdMetrics:
    """Metrics of ``m`` threshold vectors on one split.

    Attributes:
        thresholds: `m x (exits - 1)` float32 thresholds (+inf: never exit there).
        accuracy: `m` float64 accuracy in [0, 1].
        avg_macs: `m` float64 average MACs per sample.
        exit_fractions: `m x exits` float64 fraction of the samples leaving at each exit.
    """

    thresholds: Tensor
    accuracy: Tensor
    avg_macs: Tensor
    exit_fractions: Tensor

    def __len__(self) -> int:
        return self.accuracy.shape[0]

    def select(self, index: Tensor | int | slice) -> "ThresholdMetrics":
        """The rows at ``index`` (a `k` index tensor, a bool mask or a slice; an int keeps a row of 1)."""
        index = [index] if isinstance(index, int) else index
        return ThresholdMetrics(
            self.thresholds[index], self.accuracy[index], self.avg_macs[index], self.exit_fractions[index]
        )

    def paper_score(self, target_macs: float) -> Tensor:
        """`m` paper scores at ``target_macs`` (see :func:`paper_score`)."""
        return paper_score(self.accuracy, self.avg_macs, target_macs)


def paper_score(accuracy: Tensor, avg_macs: Tensor, target_macs: float) -> Tensor:
    """The AEBNAS paper's selection score, in percent points: ``100 * accuracy - 0.1 * |MACs error in %|``,
    the error being ``100 * (avg_macs - target) / target``. `m` accuracy in [0, 1], `m` MACs -> `m`."""
    return 100.0 * accuracy - 0.1 * (100.0 * (avg_macs - target_macs) / target_macs).abs()


def evaluate_scores(scores: Tensor, correct: Tensor, costs: Costs, thresholds: Tensor) -> ThresholdMetrics:
    """Metrics of threshold vectors from precomputed scores, vectorised over the vectors.

    Args:
        scores: `n x exits` confidence scores (the final exit's column is ignored).
        correct: `n x exits` bool, whether each exit's top-1 prediction is right.
        costs: `exits` MACs of leaving at each exit.
        thresholds: `m x (exits - 1)` (or `exits - 1`) thresholds; evaluated in chunks bounding memory.
    """
    n, num_exits = scores.shape
    costs = _as_costs(costs, num_exits)
    thresholds = _as_thresholds(thresholds, num_exits)
    scores, correct_t = scores.float(), correct.bool().t()  # correct_t: `exits x n`
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n * num_exits))
    n_correct, counts = [], []
    for part in thresholds.split(chunk) if len(thresholds) else [thresholds]:
        exits = first_exit(scores, part)  # `m x n`
        n_correct.append(correct_t[exits, torch.arange(n)].sum(dim=1))
        zeros = torch.zeros(len(part), num_exits, dtype=torch.long)
        counts.append(zeros.scatter_add_(1, exits, torch.ones_like(exits)))
    return _metrics(thresholds, torch.cat(n_correct), torch.cat(counts), costs)


def evaluate_thresholds(
    outputs: ExitOutputs, costs: Costs, thresholds: Tensor, rule: str = "margin"
) -> ThresholdMetrics:
    """Metrics of `m x (exits - 1)` (or `exits - 1`) threshold vectors on ``outputs`` under exit ``rule``."""
    return evaluate_scores(outputs.scores(rule), outputs.correct(), costs, thresholds)


def _metrics(thresholds: Tensor, n_correct: Tensor, counts: Tensor, costs: Tensor) -> ThresholdMetrics:
    """Metrics from `m` correct counts and `m x exits` per-exit counts; the one place they are computed."""
    n = counts.sum(dim=1, keepdim=True).clamp_min(1).double()
    fractions = counts.double() / n
    accuracy = n_correct.double() / n.squeeze(1)
    return ThresholdMetrics(thresholds, accuracy, (fractions * costs).sum(dim=1), fractions)


def _as_costs(costs: Costs, num_exits: int) -> Tensor:
    costs = torch.as_tensor(costs, dtype=torch.float64).reshape(-1)
    if num_exits < 2:
        raise AebnasError(f"an early-exit network needs at least 2 exits, got {num_exits}")
    if costs.shape[0] != num_exits:
        raise AebnasError(f"costs has {costs.shape[0]} entries; expected one per exit ({num_exits})")
    return costs


def _as_thresholds(thresholds: Tensor, num_exits: int) -> Tensor:
    thresholds = torch.as_tensor(thresholds, dtype=torch.float32)
    thresholds = thresholds.unsqueeze(0) if thresholds.dim() == 1 else thresholds
    if thresholds.dim() != 2 or thresholds.shape[1] != num_exits - 1:
        raise AebnasError(
            f"thresholds of shape {tuple(thresholds.shape)}; expected `m x {num_exits - 1}` (one per early exit)"
        )
    return thresholds


def paper_grid(num_early_exits: int) -> Tensor:
    """`3^(exits - 1) x (exits - 1)` every combination of :data:`PAPER_GRID` values (1.0 as +inf)."""
    if num_early_exits < 1:
        raise AebnasError(f"num_early_exits must be >= 1, got {num_early_exits}")
    values = [v if v < 1.0 else math.inf for v in PAPER_GRID]
    return torch.tensor(list(itertools.product(values, repeat=num_early_exits)), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------------------
# Results


def _fmt(macs: float) -> str:
    return f"{macs:,.0f}" if abs(macs) >= 1000 else f"{macs:g}"


def _json_floats(values: Tensor) -> list:
    """Plain (nested) lists; non-finite values as the strings 'inf' / '-inf' / 'nan' (strict JSON)."""
    if values.dim() > 1:
        return [_json_floats(row) for row in values]
    return [x if math.isfinite(x) else str(x) for x in values.tolist()]


def _tensor(values: list, dtype: torch.dtype) -> Tensor:
    if values and isinstance(values[0], list):
        return torch.stack([_tensor(row, dtype) for row in values])
    return torch.tensor([float(x) for x in values], dtype=dtype)


class _JsonRecord:
    """``to_dict`` / ``from_dict`` of the threshold results: tensors as (nested) lists of their dtype in
    ``_tensors``, thresholds with +inf as the string 'inf' (strict JSON), other fields as they are. Two
    records are equal when their values are (tensors compared element by element)."""

    _tensors: ClassVar[dict[str, torch.dtype]]
    __hash__ = None  # equal by value, and tensors are mutable

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "thresholds":
                value = _json_floats(value)
            elif isinstance(value, Tensor):
                value = value.tolist()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict):
        values = {"rule": d.get("rule", "margin")}
        for f in dataclasses.fields(cls):
            if f.name in cls._tensors:
                values[f.name] = _tensor(d[f.name], cls._tensors[f.name])
            elif f.name != "rule":
                values[f.name] = float(d[f.name])
        return cls(**values)


@dataclass(frozen=True, eq=False)
class TradeoffCurve(_JsonRecord):
    """Pareto set of (average MACs, accuracy) operating points of one network on one split, sorted by
    ``avg_macs`` ascending with ``accuracy`` strictly increasing.

    Attributes:
        thresholds: `k x (exits - 1)` float32 thresholds of each point.
        accuracy: `k` float64 accuracy.
        avg_macs: `k` float64 average MACs.
        exit_fractions: `k x exits` float64 fraction leaving at each exit.
        rule: the exit rule the thresholds are for.
    """

    thresholds: Tensor
    accuracy: Tensor
    avg_macs: Tensor
    exit_fractions: Tensor
    rule: str = "margin"

    _tensors: ClassVar[dict[str, torch.dtype]] = {
        "thresholds": torch.float32, "accuracy": torch.float64, "avg_macs": torch.float64,
        "exit_fractions": torch.float64}

    def __len__(self) -> int:
        return self.accuracy.shape[0]

    def _index(self, macs_budgets: Tensor) -> Tensor:
        """Index of the most accurate point with ``avg_macs <= macs_budget`` for each of `b` MACs budgets (-1: none)."""
        return torch.searchsorted(self.avg_macs, macs_budgets.reshape(-1), right=True) - 1

    def accuracy_at(self, macs_budget: float | Tensor) -> float | Tensor:
        """Best accuracy with ``avg_macs <= macs_budget``; NaN for a MACs budget below the cheapest point.
        A number gives a float, a `b` tensor (or array) of MACs budgets a `b` float64 tensor."""
        macs_budgets = torch.as_tensor(macs_budget, dtype=torch.float64)
        index = self._index(macs_budgets)
        accuracy = torch.where(index >= 0, self.accuracy[index.clamp_min(0)], math.nan)
        return accuracy.item() if macs_budgets.dim() == 0 else accuracy.reshape(macs_budgets.shape)

    def point_at(self, macs_budget: float) -> "TunedThresholds":
        """The most accurate point with ``avg_macs <= macs_budget``; UnreachableTargetError below the cheapest."""
        index = int(self._index(torch.tensor([float(macs_budget)], dtype=torch.float64)))
        if index < 0:
            raise UnreachableTargetError(
                f"MACs budget {_fmt(macs_budget)} average MACs is below the cheapest point of this curve "
                f"({_fmt(self.avg_macs[0].item())} MACs)"
            )
        return self.point(index)

    def point(self, index: int) -> "TunedThresholds":
        """The curve's point ``index`` (0 = the cheapest)."""
        return TunedThresholds(self.thresholds[index], self.accuracy[index].item(), self.avg_macs[index].item(),
                               self.exit_fractions[index], self.rule)

    def points(self) -> list["TunedThresholds"]:
        """Every point of the curve, in order of average MACs."""
        return [self.point(i) for i in range(len(self))]


@dataclass(frozen=True, eq=False)
class TunedThresholds(_JsonRecord):
    """One threshold vector and its metrics on the split it was measured on.

    Attributes:
        thresholds: `exits - 1` float32 thresholds.
        accuracy: accuracy in [0, 1].
        avg_macs: average MACs per sample.
        exit_fractions: `exits` float64 fraction leaving at each exit.
        rule: the exit rule the thresholds are for.
    """

    thresholds: Tensor
    accuracy: float
    avg_macs: float
    exit_fractions: Tensor
    rule: str = "margin"

    _tensors: ClassVar[dict[str, torch.dtype]] = {"thresholds": torch.float32, "exit_fractions": torch.float64}

    @classmethod
    def from_metrics(cls, metrics: ThresholdMetrics, index: int = 0, rule: str = "margin") -> "TunedThresholds":
        return cls(
            metrics.thresholds[index], metrics.accuracy[index].item(), metrics.avg_macs[index].item(),
            metrics.exit_fractions[index], rule,
        )

    def apply(self, outputs: ExitOutputs, costs: Costs, rule: str | None = None) -> "TunedThresholds":
        """The same thresholds measured on another split (e.g. test); ``rule`` defaults to the tuned one."""
        rule = rule or self.rule
        return TunedThresholds.from_metrics(evaluate_thresholds(outputs, costs, self.thresholds, rule), rule=rule)


# ---------------------------------------------------------------------------------------------------------
# Searching thresholds


class _Sweeper:
    """Candidate thresholds per exit (quantiles of its scores, the paper values, +inf) and the exact
    metrics of every candidate of one exit with the other exits held fixed, from two bincounts over the
    samples (`O(n x exits)`): the step that the curve's greedy sweeps and the fine tuning repeat."""

    def __init__(self, scores: Tensor, correct: Tensor, costs: Tensor, num_quantiles: int) -> None:
        if num_quantiles < 2:
            raise AebnasError(f"num_quantiles must be >= 2, got {num_quantiles}")
        self.scores, self.correct, self.costs = scores.float(), correct.bool(), costs
        self.num_exits = scores.shape[1]
        levels = torch.linspace(0.0, 1.0, num_quantiles)
        extra = torch.tensor([v if v < 1.0 else math.inf for v in PAPER_GRID])
        self.candidates, self.passed = [], []
        for k in range(self.num_exits - 1):
            s = self.scores[:, k].contiguous()
            candidates = torch.unique(torch.cat([torch.quantile(s, levels, interpolation="lower"), extra]))
            self.candidates.append(candidates)  # ascending, the last is +inf
            # `n`: how many candidates each score passes (>=): a sample leaves for candidates [0, passed)
            self.passed.append(torch.searchsorted(candidates, s, right=True))

    def profile(self, thresholds: Tensor, k: int) -> ThresholdMetrics:
        """Metrics of `thresholds` (`exits - 1`) with exit ``k``'s threshold replaced by each candidate."""
        scores, correct, num_exits = self.scores, self.correct, self.num_exits
        n, m = scores.shape[0], len(self.candidates[k])
        if k + 2 < num_exits:  # `n`: the exit taken if exit k declines
            later = first_exit(scores[:, k + 1 :], thresholds[k + 1 :]) + k + 1
        else:  # (first_exit needs at least one early exit)
            later = torch.full((n,), num_exits - 1)
        base, passed, leave_correct = later, self.passed[k], correct[:, k]
        if k:
            earlier = scores[:, :k] >= thresholds[:k]
            reached = ~earlier.any(dim=1)
            base = torch.where(reached, later, earlier.to(torch.uint8).argmax(dim=1))
            later, passed, leave_correct = later[reached], passed[reached], leave_correct[reached]
        base_correct = correct[torch.arange(n), base]
        stay_correct = base_correct[reached] if k else base_correct
        # by the number of candidates passed, then summed over "passed > c" for each candidate c: the
        # correct predictions gained and the `exits` samples taken from each exit by leaving at exit k
        gain = torch.bincount(passed, weights=leave_correct.double() - stay_correct.double(), minlength=m + 1)
        taken = torch.bincount(passed * num_exits + later, minlength=(m + 1) * num_exits).view(m + 1, num_exits)
        gain, taken = _sums_above(gain), _sums_above(taken)
        counts = torch.bincount(base, minlength=num_exits) - taken
        counts[:, k] += taken.sum(dim=1)
        candidates = thresholds.expand(m, -1).clone()
        candidates[:, k] = self.candidates[k]
        return _metrics(candidates, base_correct.sum() + gain.long(), counts, self.costs)

    def sweep(self, downward: bool) -> list[ThresholdMetrics]:
        """Greedy walk from "never exit" down to the cheapest point (or from "exit at once" up): each step
        moves one exit's threshold to the candidate with the least accuracy lost per MAC saved (most
        gained per MAC spent). Returns every profile it computed, each a set of evaluated points."""
        index = [len(c) - 1 if downward else 0 for c in self.candidates]
        thresholds = torch.stack([c[i] for c, i in zip(self.candidates, index)])
        seen = []
        while True:
            best = None  # (rate, -|MACs moved|, k, candidate)
            for k in range(self.num_exits - 1):
                profile = self.profile(thresholds, k)
                seen.append(profile)
                here = index[k]
                d_acc = profile.accuracy - profile.accuracy[here]
                d_macs = profile.avg_macs - profile.avg_macs[here]
                step = torch.arange(len(profile))
                valid = (step < here) & (d_macs < 0) if downward else (step > here) & (d_macs > 0)
                if not valid.any():
                    continue
                # accuracy lost per MAC saved (down) or minus accuracy gained per MAC spent (up): lower = better
                rate = torch.where(valid, (d_acc if downward else -d_acc) / d_macs, math.inf)
                ties = (rate == rate.min()).nonzero().squeeze(1)
                j = int(ties[d_macs[ties].abs().argmax()])
                key = (rate[j].item(), -d_macs[j].abs().item(), k, j)
                best = key if best is None or key[:2] < best[:2] else best
            if best is None:
                return seen
            _, _, k, j = best
            index[k] = j
            thresholds = thresholds.clone()
            thresholds[k] = self.candidates[k][j]

    def ascend(self, start: Tensor, objective: Objective, max_rounds: int = 50) -> Tensor:
        """Coordinate ascent from `start` (`exits - 1`) over each exit's candidates, the others held fixed,
        maximising ``objective`` (`m` values, -inf = infeasible) with ties to fewer MACs."""
        thresholds = start.clone()
        current = evaluate_scores(self.scores, self.correct, self.costs, thresholds)
        value, macs = objective(current).item(), current.avg_macs.item()
        for _ in range(max_rounds):
            improved = False
            for k in range(self.num_exits - 1):
                profile = self.profile(thresholds, k)
                values = objective(profile)
                j = _best(values, profile.avg_macs)
                new_value, new_macs = values[j].item(), profile.avg_macs[j].item()
                if new_value > value or (new_value == value and new_macs < macs):
                    thresholds, value, macs, improved = profile.thresholds[j].clone(), new_value, new_macs, True
            if not improved:
                break
        return thresholds


def _best(values: Tensor, avg_macs: Tensor) -> int:
    """Index of the largest value, ties broken by the fewest MACs."""
    ties = (values == values.max()).nonzero().squeeze(1)
    return int(ties[avg_macs[ties].argmin()])


def _sums_above(histogram: Tensor) -> Tensor:
    """`(m + 1) x ...` -> `m x ...`: row c is the sum of the rows above c."""
    return histogram.flip(0).cumsum(dim=0).flip(0)[1:]


def _concat(parts: list[ThresholdMetrics]) -> ThresholdMetrics:
    fields = ("thresholds", "accuracy", "avg_macs", "exit_fractions")
    return ThresholdMetrics(*(torch.cat([getattr(p, f) for p in parts]) for f in fields))


def _explore(sweeper: _Sweeper) -> ThresholdMetrics:
    """Every point the search evaluates: both greedy sweeps with all their one-exit neighbours, and the
    paper grid."""
    grid = evaluate_scores(sweeper.scores, sweeper.correct, sweeper.costs, paper_grid(sweeper.num_exits - 1))
    return _concat(sweeper.sweep(downward=True) + sweeper.sweep(downward=False) + [grid])


def _pareto(points: ThresholdMetrics, rule: str) -> TradeoffCurve:
    """Non-dominated points, by MACs ascending with accuracy strictly increasing."""
    order = points.accuracy.argsort(descending=True, stable=True)
    order = order[points.avg_macs[order].argsort(stable=True)]
    accuracy = points.accuracy[order]
    best_before = F.pad(accuracy.cummax(dim=0).values[:-1], (1, 0), value=-math.inf)
    keep = order[accuracy > best_before]
    p = points.select(keep)
    return TradeoffCurve(p.thresholds, p.accuracy, p.avg_macs, p.exit_fractions, rule)


def tradeoff_curve(
    outputs: ExitOutputs, costs: Costs, rule: str = "margin", num_quantiles: int = 32
) -> TradeoffCurve:
    """Accuracy-vs-average-MACs Pareto curve of one network on ``outputs`` (its validation split).

    Candidate thresholds per exit are ``num_quantiles`` quantiles of that exit's scores, the paper values
    and +inf. Two greedy sweeps (from "never exit" down to the cheapest point, and from "exit at once" up),
    each step recording all one-exit neighbours, plus the paper grid: the curve is the Pareto set of all of
    them, so it contains or dominates every paper-grid point.
    """
    sweeper = _Sweeper(outputs.scores(rule), outputs.correct(), _as_costs(costs, outputs.num_exits), num_quantiles)
    return _pareto(_explore(sweeper), rule)


def grid_curve(outputs: ExitOutputs, costs: Costs, rule: str = "margin") -> TradeoffCurve:
    """The curve of a network whose thresholds may only take the paper's values: the Pareto set of the
    `3^(exits - 1)` vectors of :func:`paper_grid` measured on ``outputs`` (`n x exits x classes`)."""
    return _pareto(evaluate_thresholds(outputs, costs, paper_grid(outputs.num_exits - 1), rule), rule)


CURVES: Registry[Callable[..., TradeoffCurve]] = Registry("threshold method")
"""How a trained network's thresholds are searched, by name: ``fine`` (:func:`tradeoff_curve`, the
default) or ``grid`` (:func:`grid_curve`, the AEBNAS paper's {0.1, 0.2, 1} per exit); each maps
(`outputs`, `costs`, `rule`) to the network's trade-off curve."""
CURVES.register("fine")(tradeoff_curve)
CURVES.register("grid")(grid_curve)


def tune(
    outputs: ExitOutputs,
    costs: Costs,
    target_macs: float,
    rule: str = "margin",
    method: str = "fine",
    scoring: str = "constraint",
    num_quantiles: int = 32,
) -> TunedThresholds:
    """Thresholds for a target average MACs, measured on ``outputs`` (the validation split).

    Args:
        outputs: the split to tune on; costs: `exits` MACs of leaving at each exit.
        target_macs: the average MACs budget per sample.
        rule: the exit rule (see :mod:`aebnas.exit_rules`).
        method: "fine" starts from the best point the curve search evaluated and runs coordinate ascent
            over each exit's quantile candidates (never worse than "grid"); "grid" searches
            :func:`paper_grid` exhaustively.
        scoring: "constraint" maximises accuracy subject to ``avg_macs <= target_macs`` (ties: fewer
            MACs); "paper" maximises :func:`paper_score` (percent points) with no hard constraint.
        num_quantiles: candidate thresholds per exit for "fine" (see :func:`tradeoff_curve`).
    Raises:
        UnreachableTargetError: the target is below the cheapest path, or (method "grid", scoring
            "constraint") no grid point meets it.
    """
    CURVES.get(method)  # an unknown method: a clear error naming the allowed ones
    if scoring not in SCORINGS:
        raise AebnasError(f"unknown tuning scoring {scoring!r}; allowed: {', '.join(SCORINGS)}")
    costs = _as_costs(costs, outputs.num_exits)
    cheapest = costs.min().item()
    if not target_macs >= cheapest or target_macs <= 0:
        raise UnreachableTargetError(
            f"target {_fmt(target_macs)} average MACs is unreachable: the minimum reachable average is "
            f"{_fmt(cheapest)} MACs (every sample leaving at exit {int(costs.argmin())})"
        )

    def objective(m: ThresholdMetrics) -> Tensor:
        if scoring == "paper":
            return m.paper_score(target_macs)
        return torch.where(m.avg_macs <= target_macs, m.accuracy, -math.inf)

    scores, correct = outputs.scores(rule), outputs.correct()
    if method == "grid":
        points = evaluate_scores(scores, correct, costs, paper_grid(outputs.num_exits - 1))
        values = objective(points)
        if values.max() == -math.inf:
            raise UnreachableTargetError(
                f"no paper-grid threshold vector reaches {_fmt(target_macs)} average MACs (the cheapest grid "
                f"point needs {_fmt(points.avg_macs.min().item())}); use method='fine'"
            )
        return TunedThresholds.from_metrics(points, _best(values, points.avg_macs), rule)
    sweeper = _Sweeper(scores, correct, costs, num_quantiles)
    points = _explore(sweeper)
    start = points.thresholds[_best(objective(points), points.avg_macs)]
    tuned = TunedThresholds.from_metrics(
        evaluate_scores(scores, correct, costs, sweeper.ascend(start, objective)), rule=rule
    )
    if scoring == "constraint" and tuned.avg_macs > target_macs:  # only with costs that are not increasing
        raise UnreachableTargetError(f"found no thresholds reaching {_fmt(target_macs)} average MACs")
    return tuned
