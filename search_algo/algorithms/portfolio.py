"""A portfolio: several algorithms share one study's budget and history.

Proposal slots go to the members in a fixed rotation (default beam,
evolution, surrogate, random) that continues across rounds: the rotation
starts at (number of trials in the history) mod (number of members), so with
3 proposals per round and 4 members, round one asks beam, evolution and
surrogate, round two random, beam and evolution, and so on. Every member
reads the whole history (so beam grows the best model whoever found it), and
each sees the earlier members' proposals of the same batch as in-flight
trials, so no two members propose the same architecture. Each member gets
its own generator, seeded from the Proposer's. Each candidate names its member in
`Candidate.algorithm`, so the study can tell which algorithm found what.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from search_algo.algorithms import Candidate, SearchAlgorithm
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import PROPOSED, Trial

DEFAULT_MEMBERS = ("beam", "evolution", "surrogate", "random")


class Portfolio:
    name = "portfolio"

    def __init__(self, members: Optional[Sequence[SearchAlgorithm | str]] = None):
        from search_algo.algorithms import get_algorithm

        chosen = list(members) if members is not None else list(DEFAULT_MEMBERS)
        if not chosen:
            raise ValueError("a portfolio needs at least one member")
        self.members: list[SearchAlgorithm] = [
            get_algorithm(m) if isinstance(m, str) else m for m in chosen
        ]
        if any(m.name == self.name for m in self.members):
            raise ValueError("a portfolio cannot contain a portfolio")

    def allocation(self, history: Sequence[Trial], count: int) -> list[int]:
        """How many of the `count` proposals each member makes this time."""
        start = len(history) % len(self.members)
        shares = [0] * len(self.members)
        for slot in range(count):
            shares[(start + slot) % len(self.members)] += 1
        return shares

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        shares = self.allocation(history, count)
        seeds = rng.integers(0, 2**31 - 1, size=len(self.members))
        start = len(history) % len(self.members)
        in_flight: list[Trial] = []
        proposals: list[Candidate] = []
        # Members propose in rotation order, starting with the one whose turn it is.
        for offset in range(len(self.members)):
            index = (start + offset) % len(self.members)
            member, share = self.members[index], shares[index]
            if not share:
                continue
            member_rng = np.random.default_rng(int(seeds[index]))
            made = member.propose(list(history) + in_flight, space, share, member_rng, objective)
            for candidate in made:
                proposals.append(dataclasses.replace(candidate, algorithm=candidate.algorithm or member.name))
                in_flight.append(Trial(
                    trial_id=f"portfolio-pending-{len(in_flight)}", round=-1, trainer=-1,
                    architecture=candidate.architecture, seed=0, algorithm=member.name,
                    run_id="", study="", status=PROPOSED,
                ))
        return proposals
