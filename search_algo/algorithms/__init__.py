"""Search algorithms: each reads the finished trials and proposes the next batch.

An algorithm holds no state that the trial history cannot rebuild and is
deterministic for its random generator and the history, so a resumed or cached
run proposes the same thing. Failed trials are history too: their
architectures are never proposed again and they count toward the budget.

Algorithms (`get_algorithm(name)`; docs/algorithms.md says how to pick one):

- ``beam``: Model Search's adaptive beam search (grow or mutate the top-k).
- ``evolution``: regularized (aging) evolution with tournament selection.
- ``surrogate``: ridge-regression ensemble over architecture features, UCB.
- ``optuna_tpe``: Optuna's TPE sampler over the space's define-by-run walk.
- ``random``: uniform samples, the baseline.
- ``portfolio``: the above taking turns on one budget and one history.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Protocol, Sequence

import numpy as np

from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import TRANSFER_NONE, Trial


@dataclasses.dataclass(frozen=True)
class Candidate:
    architecture: Architecture
    parent: Optional[str] = None
    transfer: str = TRANSFER_NONE
    # The (sub-)algorithm that made this proposal when it is not the one the
    # study runs (a portfolio's member); the Proposer records
    # `candidate.algorithm or algorithm.name` on the trial.
    algorithm: Optional[str] = None


class SearchAlgorithm(Protocol):
    name: str

    def propose(
        self,
        history: Sequence[Trial],
        space: SearchSpace,
        count: int,
        rng: np.random.Generator,
        objective: ObjectiveLike,
    ) -> list[Candidate]:
        ...


ALGORITHM_NAMES = ("beam", "evolution", "surrogate", "optuna_tpe", "random", "portfolio")


def get_algorithm(name: str) -> SearchAlgorithm:
    from search_algo.algorithms.beam import BeamSearch
    from search_algo.algorithms.evolution import RegularizedEvolution
    from search_algo.algorithms.optuna_tpe import OptunaTPE
    from search_algo.algorithms.portfolio import Portfolio
    from search_algo.algorithms.random_search import RandomSearch
    from search_algo.algorithms.surrogate import SurrogateSearch

    algorithms = {
        "beam": BeamSearch,
        "evolution": RegularizedEvolution,
        "surrogate": SurrogateSearch,
        "optuna_tpe": OptunaTPE,
        "random": RandomSearch,
        "portfolio": Portfolio,
    }
    if name not in algorithms:
        raise UserError(f"unknown search algorithm {name!r}; choose one of {', '.join(ALGORITHM_NAMES)}")
    return algorithms[name]()
