"""Random search: uniform over the space, the baseline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.search_space import SearchSpace
from search_algo.trial import Trial

MAX_ATTEMPTS = 64


class RandomSearch:
    name = "random"

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, task: str) -> list[Candidate]:
        seen = {t.architecture.arch_id for t in history}
        proposals: list[Candidate] = []
        for _ in range(count):
            for _ in range(MAX_ATTEMPTS):
                arch = space.sample(rng)
                if arch.arch_id not in seen:
                    break
            seen.add(arch.arch_id)
            proposals.append(Candidate(arch))
        return proposals
