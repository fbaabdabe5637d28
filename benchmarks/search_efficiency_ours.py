"""The search-efficiency benchmark: the platform's own algorithms, run through
`search_algo.loop.run_search` with the trainer's `train_trial`."""

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
    from search_algo.early_stopping import make_pruner
    from search_algo.loop import run_search
    from search_algo.proposals import derived_seed
    from search_algo.search_space import SearchSpace
    from search_algo.trial import COMPLETED

    records = []
    budget = Budget.of(args)

    def train_round(proposals, history):
        stopping = make_pruner("none" if args.no_early_stopping else "median", history, args.epochs)
        files_of = {t.trial_id: t.path for t in history if t.path}
        for proposal in proposals:
            if budget.out_of_time():
                return
            trial_dir = str(workdir / proposal.trial_id)
            result = train_trial(proposal, data.spec, data.train, data.evaluation, args.epochs, None, trial_dir,
                                 stopping, parent_dir=files_of.get(proposal.parent or ""),
                                 teacher_dir=files_of.get(proposal.teacher or ""))
            test = None
            if result.status == COMPLETED:
                result.path = trial_dir
                test = test_accuracy(trial_dir, data)
                if stopping is not None:
                    stopping.add(result.curve)
            keras.backend.clear_session()
            records.append(record(result, test, budget.elapsed()))
            log.info("%s seed %d trial %d: eval %s test %s (%s epochs%s)", method, seed, len(records),
                     result.metrics.get("accuracy"), test, result.epochs, ", stopped" if result.stopped_early else "")
            yield result

    history = run_search(
        get_algorithm(method), SearchSpace.from_dict(SPACE, data.spec.input_kind), train_round,
        budget=budget.trials or UNBOUNDED_TRIALS, per_round=TRIALS_PER_ROUND, stop=budget.out_of_time,
        objective=data.spec.task, seed=seed, study="bench",
        run_id=f"{method}-s{seed}", weight_sharing=not args.no_weight_sharing,
        teacher_distillation=args.teacher_distillation,
        # The seeds the committed results were measured with.
        rng_for_round=lambda r: np.random.default_rng(derived_seed(seed, "bench", method, r, "propose")),
    )
    return records, history

