"""Random search: uniform over the space, the baseline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.algorithms.common import sample_new, seen_ids
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import Trial


class RandomSearch:
    name = "random"

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        seen = seen_ids(history)
        proposals: list[Candidate] = []
        for _ in range(count):
            arch = sample_new(space, rng, seen)
            seen.add(arch.arch_id)
            proposals.append(Candidate(arch))
        return proposals
