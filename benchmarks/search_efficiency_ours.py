"""The search-efficiency benchmark: the platform's own algorithms, run through
`search_algo.loop.run_search` with the trainer's `train_trial`.

`--budget-schedule asha` trains new trials the bottom rung's epochs and
promotes the best (search_algo/budget_schedule.py); the budget is then counted
in epoch-equivalent trials (planned epochs / epochs), as for KerasTuner's
Hyperband. `--max-params N` constrains the proposals
(search_algo/constraints.py). `--seconds N` stops on the clock instead."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import (  # noqa: E402
    SPACE, TRIALS_PER_ROUND, UNBOUNDED_TRIALS, Budget, Data, log, record, test_accuracy,
)


def run_ours(method: str, seed: int, args, data: Data, workdir: Path) -> tuple[list[dict], list]:
    import keras

    from components.trainer.training import train_trial
    from search_algo.algorithms import get_algorithm
    from search_algo.budget_schedule import BudgetSchedule, epoch_cost
    from search_algo.constraints import ConstrainedAlgorithm, Constraints, ModelCost
    from search_algo.early_stopping import PrunersByFidelity
    from search_algo.loop import run_search
    from search_algo.proposals import derived_seed
    from search_algo.search_space import SearchSpace
    from search_algo.trial import COMPLETED

    records = []
    budget = Budget.of(args)
    schedule = BudgetSchedule(getattr(args, "budget_schedule", "none"), args.epochs)
    constraints = Constraints(max_params=getattr(args, "max_params", 0) or 0)

    def train_round(proposals, history):
        pruners = PrunersByFidelity("none" if args.no_early_stopping else "median", history, args.epochs)
        files_of = {t.trial_id: t.path for t in history if t.path}
        for proposal in proposals:
            if budget.out_of_time():
                return
            trial_dir = str(workdir / proposal.trial_id)
            result = train_trial(proposal, data.spec, data.train.stream, data.evaluation.stream,
                                 proposal.planned_epochs or args.epochs, None, trial_dir, pruners.for_trial(proposal),
                                 parent_dir=files_of.get(proposal.parent or ""),
                                 teacher_dir=files_of.get(proposal.teacher or ""))
            test = None
            if result.status == COMPLETED:
                result.path = trial_dir
                test = test_accuracy(trial_dir, data)
                pruners.add(result)
            keras.backend.clear_session()
            records.append(dict(record(result, test, budget.elapsed()),
                                cost_trials=(proposal.planned_epochs or args.epochs) / args.epochs,
                                total_epochs=proposal.total_epochs))
            log.info("%s seed %d trial %d: eval %s test %s (%s epochs%s)", method, seed, len(records),
                     result.metrics.get("accuracy"), test, result.epochs, ", stopped" if result.stopped_early else "")
            yield result

    algorithm = get_algorithm(method)
    if constraints.active:
        algorithm = ConstrainedAlgorithm(algorithm, constraints, ModelCost(data.spec, constraints))
    space = SearchSpace.from_dict(SPACE, data.spec.input_kind)
    search = dict(
        per_round=TRIALS_PER_ROUND, objective=data.spec.task, seed=seed, study="bench", run_id=f"{method}-s{seed}",
        weight_sharing=not args.no_weight_sharing, teacher_distillation=args.teacher_distillation,
        stop=budget.out_of_time,
        # The seeds the committed results were measured with.
        rng_for_round=lambda r: np.random.default_rng(derived_seed(seed, "bench", method, r, "propose")),
    )
    if not schedule.active:
        return records, run_search(algorithm, space, train_round, budget=budget.trials or UNBOUNDED_TRIALS, **search)
    # Round by round until the epochs of `budget` full trials (or the time) are spent.
    history: list = []
    limit = (budget.trials or UNBOUNDED_TRIALS) * args.epochs
    while epoch_cost(history, args.epochs) < limit and not budget.out_of_time():
        history = run_search(algorithm, space, train_round, budget=TRIALS_PER_ROUND, history=history,
                             first_round=len(history) // TRIALS_PER_ROUND + 1, schedule=schedule, **search)
    return records, history
