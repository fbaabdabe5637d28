"""The search loop, written once: propose a round, train it, record it.

The pipeline runs the steps as separate nodes - the Proposer executor calls
`propose_round`, the Trainers train, and the next Proposer reads their
records as history - so a round survives a crash between them. The simulator
(search_algo/algorithms/simulate.py) and the search-efficiency benchmark run
the whole loop in one process with `run_search`, giving it their own way to
train (a synthetic score, or real training).
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from search_algo.budget_schedule import BudgetSchedule
from search_algo.objective import ObjectiveLike
from search_algo.proposals import TrialCost, derived_seed, proposal_trials
from search_algo.search_space import SearchSpace
from search_algo.trial import Trial

# Trains a round: (its proposals, every finished trial so far) -> the finished trials.
TrainRound = Callable[[Sequence[Trial], Sequence[Trial]], Iterable[Trial]]


def round_rng(seed: int, study: str, run_id: str, round_index: int) -> np.random.Generator:
    """The generator a round proposes with: the same round of the same run
    proposes the same trials, however often it is run again."""
    return np.random.default_rng(derived_seed(seed, study, run_id, round_index, "propose"))


def propose_round(
    algorithm,
    history: Sequence[Trial],
    space: SearchSpace,
    count: int,
    round_index: int,
    *,
    objective: ObjectiveLike,
    seed: int = 0,
    study: str,
    run_id: str,
    per_trainer: Optional[int] = None,
    weight_sharing: bool = True,
    teacher_distillation: bool = False,
    rng: Optional[np.random.Generator] = None,
    schedule: Optional[BudgetSchedule] = None,
    trial_cost: Optional[TrialCost] = None,
) -> list[Trial]:
    """One Proposer step: `count` trials, given every finished trial, as
    `proposed` trials for `count / per_trainer` trainers - the budget
    schedule's promotions first, the algorithm's candidates in the rest;
    dealt by `trial_cost`, costliest first, when it is given (proposals.py)."""
    rng = rng if rng is not None else round_rng(seed, study, run_id, round_index)
    promotions = schedule.promotions(history, objective, count) if schedule is not None else []
    fresh = count - len(promotions)
    candidates = algorithm.propose(list(history), space, fresh, rng, objective) if fresh else []
    return proposal_trials(
        candidates, history, study=study, run_id=run_id, round_index=round_index,
        trials_per_trainer=per_trainer or max(1, count), seed=seed, algorithm=algorithm.name, objective=objective,
        weight_sharing=weight_sharing, teacher_distillation=teacher_distillation,
        promotions=promotions, schedule=schedule, trial_cost=trial_cost,
    )


def run_search(
    algorithm,
    space: SearchSpace,
    train: TrainRound,
    *,
    budget: int,
    per_round: int,
    objective: ObjectiveLike,
    seed: int = 0,
    study: str,
    run_id: str,
    history: Sequence[Trial] = (),
    first_round: int = 1,
    weight_sharing: bool = True,
    teacher_distillation: bool = False,
    rng_for_round: Optional[Callable[[int], np.random.Generator]] = None,
    schedule: Optional[BudgetSchedule] = None,
    stop: Optional[Callable[[], bool]] = None,
) -> list[Trial]:
    """`history` plus `budget` new trials, `per_round` a round (the last
    round takes what is left): propose, train, record, until spent or,
    before a round, `stop()` says so (a wall-time budget)."""
    trials = list(history)
    round_index, spent = first_round, 0
    while spent < budget and not (stop and stop()):
        count = min(per_round, budget - spent)
        proposed = propose_round(
            algorithm, trials, space, count, round_index, objective=objective, seed=seed, study=study,
            run_id=run_id, weight_sharing=weight_sharing, teacher_distillation=teacher_distillation,
            rng=rng_for_round(round_index) if rng_for_round else None, schedule=schedule,
        )
        finished = list(train(proposed, trials))
        trials.extend(finished)
        spent += len(proposed)
        round_index += 1
    return trials
