"""Search algorithms: each reads the finished trials and proposes the next batch.

An algorithm holds no state that the trial history cannot rebuild and is
deterministic for its random generator and the history, so a resumed or cached
run proposes the same thing. Failed trials are history too.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Protocol, Sequence

import numpy as np

from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.search_space import SearchSpace
from search_algo.trial import TRANSFER_NONE, Trial


@dataclasses.dataclass(frozen=True)
class Candidate:
    architecture: Architecture
    parent: Optional[str] = None
    transfer: str = TRANSFER_NONE


class SearchAlgorithm(Protocol):
    name: str

    def propose(
        self,
        history: Sequence[Trial],
        space: SearchSpace,
        count: int,
        rng: np.random.Generator,
        task: str,
    ) -> list[Candidate]:
        ...


def get_algorithm(name: str) -> SearchAlgorithm:
    from search_algo.algorithms.beam import BeamSearch
    from search_algo.algorithms.random_search import RandomSearch

    algorithms = {"random": RandomSearch, "beam": BeamSearch}
    if name not in algorithms:
        raise UserError(f"unknown search algorithm {name!r}; choose one of {', '.join(sorted(algorithms))}")
    return algorithms[name]()


ALGORITHM_NAMES = ("beam", "random")
