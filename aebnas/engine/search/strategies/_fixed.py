"""A fixed design: the given architectures, in order (to train a list again, e.g. with another training
seed, as a benchmark table's noise subset is)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from aebnas.engine.search.strategies._base import STRATEGIES, ProposalBatch, ProposalContext, Strategy
from aebnas.engine.search.strategies.proposals import Proposal, feasible_macs_budgets
from aebnas.exceptions import AebnasError
from aebnas.search_space import Architecture


def _as_dicts(architectures: Sequence[Architecture | dict[str, Any]] | str) -> tuple[dict[str, Any], ...]:
    """Architectures (objects, their dicts, or the path of a JSON file listing their dicts) as dicts."""
    if isinstance(architectures, (str, Path)):
        try:
            architectures = json.loads(Path(architectures).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise AebnasError(f"fixed: cannot read the architectures file {architectures} ({type(err).__name__}); "
                              "give a JSON list of architecture objects") from None
    if not isinstance(architectures, (list, tuple)):
        raise AebnasError("fixed: architectures must be a list of architectures (or the path of a JSON file of one)")
    return tuple((a if isinstance(a, Architecture) else Architecture.from_dict(a)).to_dict() for a in architectures)


@STRATEGIES.register("fixed")
class FixedDesign(Strategy):
    """Proposes ``architectures`` in the order given, skipping any already tried, each at a random
    feasible MACs budget; nothing more once the list is spent.

    Args:
        architectures: Architecture objects, their dicts, or the path of a JSON file listing the dicts.
    """

    name = "fixed"

    def __init__(self, architectures: Sequence[Architecture | dict[str, Any]] | str = ()) -> None:
        self.architectures = _as_dicts(architectures)

    def propose(self, context: ProposalContext, n: int) -> ProposalBatch:
        proposals = []
        for spec in self.architectures:
            arch = Architecture.from_dict(spec)
            if arch.id in context.exclude:
                continue
            context.space.check(arch)
            budgets = feasible_macs_budgets(context.space.costs(arch), context.ref_macs)
            if not budgets:
                raise AebnasError(f"fixed: architecture {arch.id} has no exit path within {context.ref_macs:,.0f} MACs")
            proposals.append(Proposal(arch, float(budgets[int(context.rng.integers(len(budgets)))]), self.name))
            if len(proposals) == n:
                break
        if not proposals:
            raise AebnasError(f"fixed: all {len(self.architectures)} listed architectures are tried; list more "
                              "architectures or give a smaller budget")
        return ProposalBatch(tuple(proposals))
