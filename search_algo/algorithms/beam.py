"""Adaptive beam search, after Model Search: start small, keep the top-k,
grow or mutate one of them; children start from their parent's weights.

- Round one (no completed trial yet): proposal i is the space's starting
  stack i mod k with arguments and hyperparameters drawn
  (`SearchSpace.starting_stacks`: families that train well in a few epochs),
  or, when the space names none, a random architecture of the shallowest
  feasible depth.
- Afterwards: the beam is the `beam_width` best completed trials
  (`rank_trials`); proposal i mutates beam member i mod k, so the best gets
  the most children. Mutations are weighted toward growing - a new block
  ("grow") or a copy of one of the parent's ("repeat"), appended so the child
  inherits all the parent's weights - then hyperparameters, block arguments,
  replacing and removing a block.
- The depth allowed grows with the budget spent: the shallowest feasible
  depth plus one per `grow_every` finished trials (failed ones count), capped
  by the space. A parent already at the cap is mutated without growing.

Everything is read from the history: no hidden state.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.algorithms.common import finished_count, initial_member, seen_ids
from search_algo.mutation import mutate
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import TRANSFER_WEIGHTS, Trial, rank_trials

BEAM_WIDTH = 3
GROW_EVERY = 4
# Growing keeps the parent's blocks as a prefix, so the child inherits their
# weights: Model Search's main move. The others explore around it.
MUTATION_OPERATORS = ("grow", "repeat", "replace", "remove", "block_args", "hyperparameters")
MUTATION_WEIGHTS = (0.25, 0.15, 0.15, 0.1, 0.15, 0.2)


class BeamSearch:
    name = "beam"

    def __init__(self, beam_width: int = BEAM_WIDTH, grow_every: int = GROW_EVERY):
        if beam_width < 1 or grow_every < 1:
            raise ValueError("beam_width and grow_every must be >= 1")
        self.beam_width = beam_width
        self.grow_every = grow_every

    def depth_limit(self, history: Sequence[Trial], space: SearchSpace) -> int:
        """How deep a proposal may be after this many finished trials."""
        shallowest = min(space.feasible_depths)
        return min(space.max_depth, shallowest + finished_count(history) // self.grow_every)

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        seen = seen_ids(history)
        beam = rank_trials(history, objective)[: self.beam_width]
        limit = self.depth_limit(history, space)
        proposals: list[Candidate] = []
        for index in range(count):
            if not beam:
                arch = initial_member(space, rng, seen, index)
                proposals.append(Candidate(arch))
            else:
                parent = beam[index % len(beam)]
                arch = mutate(parent.architecture, space, rng, MUTATION_OPERATORS, MUTATION_WEIGHTS,
                              exclude=frozenset(seen), max_depth=limit)
                proposals.append(Candidate(arch, parent=parent.trial_id, transfer=TRANSFER_WEIGHTS))
            seen.add(arch.arch_id)
        return proposals
