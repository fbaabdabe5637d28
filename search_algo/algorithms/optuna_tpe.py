"""Optuna's TPE sampler (Bergstra et al. 2011) as a search algorithm of the
pipeline: a well-kept Bayesian optimiser instead of a home-made one.

In issue 23's time-to-accuracy measurement (docs/results.md) Optuna's TPE
sampler with its HyperbandPruner, drawing define-by-run over the same space
and model builder, was ahead of beam search with ASHA at every time mark.

Each round rebuilds an in-memory Optuna study from the history, so the
algorithm keeps no state of its own:

- every completed trial whose architecture the space's walk can draw
  (`space_walk.replay`) is told to the study with its score (the objective on
  eval, higher is better); a promotion continues its parent's architecture,
  so the latest trial of an architecture - its longest training - stands for
  it;
- then the round's proposals are asked for, one `ask()` each. The sampler's
  constant liar treats the round's earlier, still running asks as bad, so
  one round does not propose the same region over and over; an architecture
  already tried is told as failed and asked again, and random samples fill
  what the sampler cannot.

The sampler's seed comes from the round's generator, so a re-run proposes the
same thing. Multi-fidelity comes from the pipeline (`--budget-schedule asha`),
as for every algorithm, not from Optuna's pruner: the pipeline's trials are
trained outside this process.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.algorithms.common import completed, sample_new, seen_ids
from search_algo.objective import ObjectiveLike
from search_algo.search_space import SearchSpace
from search_algo.space_walk import Draw, NotInSpace, architecture_from, replay
from search_algo.trial import Trial

# Random draws before TPE models the history: Optuna's default.
STARTUP_TRIALS = 10
ASKS_PER_PROPOSAL = 8


class OptunaSuggest:
    """`architecture_from`'s draws as Optuna suggestions (define-by-run)."""

    def __init__(self, trial):
        self.trial = trial

    def boolean(self, name):
        return self.trial.suggest_categorical(name, [False, True])

    def choice(self, name, values):
        return self.trial.suggest_categorical(name, values)

    def integer(self, name, low, high, log):
        return self.trial.suggest_int(name, low, high, log=log)

    def real(self, name, low, high, log):
        return self.trial.suggest_float(name, low, high, log=log)


def distribution_of(draw: Draw):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if draw.kind in ("boolean", "choice"):
        return CategoricalDistribution(list(draw.values))
    if draw.kind == "integer":
        return IntDistribution(int(draw.low), int(draw.high), log=draw.log)
    return FloatDistribution(float(draw.low), float(draw.high), log=draw.log)


def latest_per_architecture(trials: Sequence[Trial]) -> list[Trial]:
    """One trial per architecture, the last in history order."""
    latest = {t.architecture.arch_id: t for t in trials}
    return list(latest.values())


class OptunaTPE:
    name = "optuna_tpe"

    def __init__(self, startup_trials: int = STARTUP_TRIALS):
        if startup_trials < 1:
            raise ValueError("startup_trials must be >= 1")
        self.startup_trials = startup_trials

    def study(self, history: Sequence[Trial], space: SearchSpace, rng: np.random.Generator, objective: ObjectiveLike):
        """An in-memory Optuna study told every completed trial it can replay."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            # constant_liar is marked experimental; its behaviour is what a batch of asks needs.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=int(rng.integers(2**31 - 1)),
                                                 n_startup_trials=self.startup_trials, constant_liar=True)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for trial in latest_per_architecture(completed(history)):
            score = trial.score(objective)
            if not np.isfinite(score):
                continue
            try:
                draws = replay(trial.architecture, space)
            except NotInSpace:
                continue  # drawn from another space (an earlier run's, a custom block's): nothing to tell
            study.add_trial(optuna.trial.create_trial(
                params={d.name: d.value for d in draws},
                distributions={d.name: distribution_of(d) for d in draws}, value=score))
        return study

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        from optuna.trial import TrialState

        study = self.study(history, space, rng, objective)
        seen = seen_ids(history)
        proposals: list[Candidate] = []
        for _ in range(count * ASKS_PER_PROPOSAL):
            if len(proposals) == count:
                break
            asked = study.ask()
            arch = architecture_from(OptunaSuggest(asked), space)
            if arch.arch_id in seen:
                study.tell(asked, state=TrialState.FAIL)
                continue
            seen.add(arch.arch_id)
            proposals.append(Candidate(arch))
        while len(proposals) < count:
            arch = sample_new(space, rng, seen)
            seen.add(arch.arch_id)
            proposals.append(Candidate(arch, algorithm=f"{self.name}+random"))
        return proposals
