"""Adaptive beam search, after Model Search: start small, keep the top-k,
grow or mutate one of them; children start from their parent's weights."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.mutation import mutate
from search_algo.search_space import SearchSpace
from search_algo.trial import TRANSFER_WEIGHTS, Trial, rank_trials

BEAM_WIDTH = 3
# Growing keeps the parent's blocks as a prefix, so the child inherits their
# weights: Model Search's main move. The others explore around it.
MUTATION_OPERATORS = ("grow", "replace", "remove", "block_args", "hyperparameters")
MUTATION_WEIGHTS = (0.4, 0.15, 0.1, 0.15, 0.2)
MAX_ATTEMPTS = 64


class BeamSearch:
    name = "beam"

    def __init__(self, beam_width: int = BEAM_WIDTH):
        self.beam_width = beam_width

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, task: str) -> list[Candidate]:
        seen = frozenset(t.architecture.arch_id for t in history)
        beam = rank_trials(history, task)[: self.beam_width]
        proposals: list[Candidate] = []
        for index in range(count):
            if not beam:
                arch = self._small_architecture(space, rng, seen)
                proposals.append(Candidate(arch))
            else:
                parent = beam[index % len(beam)]
                arch = mutate(parent.architecture, space, rng, MUTATION_OPERATORS, MUTATION_WEIGHTS, exclude=seen)
                proposals.append(Candidate(arch, parent=parent.trial_id, transfer=TRANSFER_WEIGHTS))
            seen = seen | {arch.arch_id}
        return proposals

    @staticmethod
    def _small_architecture(space: SearchSpace, rng: np.random.Generator, seen: frozenset[str]):
        """The search starts from the shallowest feasible stacks."""
        shallowest = min(space.feasible_depths)
        arch = space.sample(rng)
        for _ in range(MAX_ATTEMPTS):
            arch = space.sample(rng)
            if arch.depth == shallowest and arch.arch_id not in seen:
                return arch
        return arch
