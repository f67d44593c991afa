"""The search space of a benchmark table: the space the table was sampled from, restricted to the
table's architectures, so that every strategy proposes only architectures the table can look up."""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from aebnas.exceptions import InvalidArchitectureError, TableError
from aebnas.search_space import Architecture, SearchSpace
from aebnas.search_space.space import Rng


class TableSpace(SearchSpace):
    """``base`` restricted to ``members``. How each way of making an architecture maps into the table:

    * sampling (random search, every initial design, the BO pool, NSGA-II's fill-ins): uniform over the
      members not excluded;
    * mutation (NSGA-II, the paper's method, mutations of the front in the BO pool): a mutation of the
      base space, then, if the child is not a member, the member nearest to it in the space's numeric
      encoding (each feature scaled by its spread over the table; the parent itself excluded);
    * anything else (an NSGA-II crossover child): valid only if it is a member, so a crossover that
      leaves the table falls back to its first parent, which is then mutated as above.
    """

    def __init__(self, base: SearchSpace, members: Sequence[Architecture]) -> None:
        super().__init__(base.name, base.input_shape, base.num_classes, base.backbone, base.backbone_options,
                         base.max_exits, base.cost)
        self.base = base
        self.members = tuple(members)
        self._index = {arch.id: i for i, arch in enumerate(self.members)}
        for arch in self.members:
            try:
                base.check(arch)
            except InvalidArchitectureError as err:
                raise TableError(f"the table holds an architecture outside the search space ({err})") from None

    def check(self, arch: Architecture) -> None:
        super().check(arch)
        if arch.id not in self._index:
            raise InvalidArchitectureError(f"architecture {arch.id} is not in the benchmark table")

    def sample(self, rng: Rng = None) -> Architecture:
        rng = np.random.default_rng(rng)
        return self.members[int(rng.integers(len(self.members)))]

    def sample_many(self, n: int, rng: Rng = None, exclude: set[str] = frozenset()) -> list[Architecture]:
        """Up to ``n`` distinct members not in ``exclude``, uniformly at random."""
        rng = np.random.default_rng(rng)
        free = [arch for arch in self.members if arch.id not in exclude]
        return [free[i] for i in rng.permutation(len(free))[:n]]

    def mutate(self, arch: Architecture, rng: Rng = None) -> Architecture:
        """A mutation of the base space mapped to the nearest member (see the class docstring)."""
        child = self.base.mutate(arch, rng)
        if child.id in self._index:
            return self.members[self._index[child.id]]
        distance = np.square((self._encoded - self.base.encode([child])) / self._scale).sum(axis=1)
        if arch.id in self._index:
            distance[self._index[arch.id]] = np.inf
        return self.members[int(np.argmin(distance))]

    @functools.cached_property
    def _encoded(self) -> np.ndarray:
        return self.base.encode(self.members)

    @functools.cached_property
    def _scale(self) -> np.ndarray:
        std = self._encoded.std(axis=0)
        return np.where(std > 0, std, 1.0)
