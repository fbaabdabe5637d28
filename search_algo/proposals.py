"""From an algorithm's candidates to proposed trial records.

The Proposer component and the benchmarks both turn candidates into trials
here, so seeds, trial ids, weight sharing and teachers follow one rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Callable, Optional, Sequence

from search_algo.algorithms import Candidate
from search_algo.budget_schedule import BudgetSchedule, Promotion
from search_algo.distillation import choose_teacher
from search_algo.trial import TRANSFER_CONTINUE, TRANSFER_NONE, Trial
from search_algo.objective import ObjectiveLike


# What a proposed trial is expected to cost, in any unit common to the round's
# trials (the Proposer: the model's parameters times the epochs it trains).
TrialCost = Callable[[Trial], float]


def deal_longest_first(costs: Sequence[float], trainers: int) -> list[int]:
    """The trainer of each trial: the costliest first, each to the trainer with
    the least work dealt so far (ties: the lower trainer; equal costs keep
    their order). Longest-processing-time-first scheduling: a round is then
    at most 4/3 as long as the best split of its trials could make it, so
    the trainers of a round finish near the same time instead of one waiting
    for the other."""
    loads = [0.0] * trainers
    dealt = [0] * len(costs)
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        trainer = min(range(trainers), key=lambda t: (loads[t], t))
        dealt[index] = trainer
        loads[trainer] += costs[index]
    return dealt


def derived_seed(*parts: Any) -> int:
    """A stable 31-bit seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def proposal_trials(
    candidates: Sequence[Candidate],
    history: Sequence[Trial],
    *,
    study: str,
    run_id: str,
    round_index: int,
    trials_per_trainer: int,
    seed: int,
    algorithm: str,
    objective: ObjectiveLike,
    weight_sharing: bool = True,
    teacher_distillation: bool = False,
    promotions: Sequence[Promotion] = (),
    schedule: Optional[BudgetSchedule] = None,
    trial_cost: Optional[TrialCost] = None,
) -> list[Trial]:
    """Trials `{run_id}-r{round}-{index}`: the schedule's promotions first,
    then the algorithm's candidates; with `trial_cost`, dealt to the trainers
    costliest first to the least loaded (`deal_longest_first`), without it in
    order, `trials_per_trainer` to a trainer.

    A child shares its parent's weights only when the parent's files exist
    (`path`); with `teacher_distillation`, every new trial of the round learns
    from the best completed trial so far as well (classification only). Under
    an active budget schedule a new trial trains the bottom rung's epochs."""
    by_id = {t.trial_id: t for t in history}
    teacher = choose_teacher(history, objective) if teacher_distillation else None
    first_epochs = schedule.first_epochs if schedule is not None and schedule.active else None

    def new_trial(index: int, **fields) -> Trial:
        fields.setdefault("seed", derived_seed(seed, study, run_id, round_index, index, "train"))
        return Trial(
            trial_id=f"{run_id}-r{round_index}-{index:02d}",
            round=round_index,
            trainer=index // trials_per_trainer,
            run_id=run_id,
            study=study,
            **fields,
        )

    # A promotion is its parent's training run, continued: the same seed, so
    # the same order of the training data from epoch to epoch.
    trials = [
        new_trial(index, architecture=promotion.trial.architecture, algorithm=schedule.kind,
                  seed=promotion.trial.seed,
                  parent=promotion.trial.trial_id, transfer=TRANSFER_CONTINUE,
                  planned_epochs=promotion.planned_epochs, total_epochs=promotion.to_epochs)
        for index, promotion in enumerate(promotions)
    ]
    for index, candidate in enumerate(candidates, start=len(trials)):
        parent = by_id.get(candidate.parent) if candidate.parent else None
        shares = weight_sharing and parent is not None and bool(parent.path)
        trials.append(new_trial(
            index,
            architecture=candidate.architecture,
            algorithm=candidate.algorithm or algorithm,
            parent=candidate.parent,
            transfer=candidate.transfer if shares else TRANSFER_NONE,
            teacher=teacher.trial_id if teacher else None,
            planned_epochs=first_epochs,
            total_epochs=first_epochs,
        ))
    trainers = math.ceil(len(trials) / trials_per_trainer) if trials else 0
    if trial_cost is None or trainers < 2:
        return trials
    dealt = deal_longest_first([trial_cost(t) for t in trials], trainers)
    return [dataclasses.replace(t, trainer=trainer) for t, trainer in zip(trials, dealt)]
