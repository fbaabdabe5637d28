"""Regularized (aging) evolution with tournament selection (Real et al.,
"Regularized Evolution for Image Classifier Architecture Search", AAAI 2019).

- The population is the `population_size` most recently finished completed
  trials, in history order (the order trials were recorded: earlier runs,
  then this run's rounds). Older trials age out even when they are good,
  which is the regularization.
- Until the study has that many completed trials, proposals are the
  initial population, drawn as beam search starts: the space's starting
  stacks in turn (`SearchSpace.starting_stacks`: families that train well
  in a few epochs) with arguments and hyperparameters drawn, or, when the
  space names none, random samples of the shallowest feasible depth. The
  first tournaments then pick among good parents, and mutation grows them.
  (From random depths, the first population held slow, deep models that
  the early-stopping rule cut short; evolution then needed 39 trials to
  reach 98% on mnist1d, beam 18 - docs/results.md.)
- Then each proposal samples `sample_size` members of the population
  uniformly without replacement, takes the best (`rank_trials` order) and
  mutates it once; the child records that parent and starts from its weights.

Defaults are sized for this platform's small studies (tens of trials, not
the paper's thousands): a population of 8 and tournaments of 4 - greedier
than the paper's 100 / 25, which pays off when the budget is short, while
aging still replaces every member within two rounds of 4.

Failed trials never join the population and their architectures are never
proposed again. Everything is read from the history: no hidden state.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.algorithms.common import completed, initial_member, seen_ids
from search_algo.mutation import mutate
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import TRANSFER_WEIGHTS, Trial, rank_trials

POPULATION_SIZE = 8
SAMPLE_SIZE = 4


class RegularizedEvolution:
    name = "evolution"

    def __init__(self, population_size: int = POPULATION_SIZE, sample_size: int = SAMPLE_SIZE):
        if not 1 <= sample_size <= population_size:
            raise ValueError("need 1 <= sample_size <= population_size")
        self.population_size = population_size
        self.sample_size = sample_size

    def population(self, history: Sequence[Trial]) -> list[Trial]:
        return completed(history)[-self.population_size:]

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        seen = seen_ids(history)
        population = self.population(history)
        full = len(population) >= self.population_size
        proposals: list[Candidate] = []
        for index in range(count):
            if not full:
                # The position in the whole history, so the stacks take turns across rounds too.
                arch = initial_member(space, rng, seen, len(history) + index)
                proposals.append(Candidate(arch))
            else:
                picks = rng.choice(len(population), size=self.sample_size, replace=False)
                parent = rank_trials([population[int(i)] for i in picks], objective)[0]
                arch = mutate(parent.architecture, space, rng, exclude=frozenset(seen))
                proposals.append(Candidate(arch, parent=parent.trial_id, transfer=TRANSFER_WEIGHTS))
            seen.add(arch.arch_id)
        return proposals
