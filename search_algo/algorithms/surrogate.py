"""Surrogate-model search: predict the score of unseen candidates from
architecture features and propose the most promising ones.

- Features (`features`): per block name of the space, how often it occurs
  (and whether at all); depth and depth squared; log learning rate and its
  square (so an optimum inside the range can be represented); dropout and
  its square; log weight decay; log batch size; optimizer one-hot; log head
  hidden units; log total width (sum of the blocks' filters / units / model
  and feed-forward widths). Standardised on the trials being fitted.
- Model: an ensemble of `ensemble_size` ridge regressions (closed form),
  each fitted on a bootstrap resample of the finished trials. Completed
  trials give their score; failed trials are fitted at the worst completed
  score, so the model learns to avoid what fails.
- Acquisition: UCB, mean + `exploration` * standard deviation across the
  ensemble, over `mutations` mutants of the `top_k` best trials (one or two
  mutation steps; they record that trial as parent and start from its
  weights) and `random_samples` fresh samples; the `count` best distinct
  unseen candidates are proposed.
- Diversity: a candidate's acquisition drops by `diversity` standard
  deviations of the scores times the share of the history that already has
  its block sequence (the block names in order), and a round takes at most
  half its candidates (at least one) of one block sequence. Without this, on
  mnist1d one good early trial drew 30 of 40 trials to mutants of its own
  blocks (docs/results.md, search efficiency).
- With fewer than `min_history` completed trials: random samples.

Everything is read from the history: no hidden state.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Optional, Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.algorithms.common import completed, sample_new, seen_ids
from search_algo.architecture import Architecture
from search_algo.mutation import mutate
from search_algo.search_space import SearchSpace
from search_algo.objective import ObjectiveLike
from search_algo.trial import FAILED, PROPOSED, TRANSFER_WEIGHTS, Trial, rank_trials

MIN_HISTORY = 4
ENSEMBLE_SIZE = 8
RIDGE_ALPHA = 1.0
EXPLORATION = 0.5
TOP_K = 5
MUTATIONS = 160
DIVERSITY = 1.0
RANDOM_SAMPLES = 64
WIDTH_ARGS = ("filters", "units", "model_dim", "ff_dim")


def features(arch: Architecture, space: SearchSpace) -> np.ndarray:
    """The architecture as a fixed-length vector for `space`."""
    names = list(space.blocks)
    counts = np.zeros(len(names))
    width = 0.0
    for block in arch.blocks:
        if block.name in names:
            counts[names.index(block.name)] += 1
        for key in WIDTH_ARGS:
            value = block.args.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                width += float(value)
    hp = arch.hyperparameters
    optimizer_spec = space.hyperparameters.get("optimizer")
    optimizers = list(optimizer_spec.choices) if optimizer_spec is not None and optimizer_spec.is_choice else []
    log_lr = math.log10(hp.learning_rate)
    depth = float(arch.depth)
    row = [
        *counts, *(counts > 0).astype(float),
        depth, depth * depth,
        log_lr, log_lr * log_lr,
        hp.dropout, hp.dropout * hp.dropout,
        math.log10(hp.weight_decay + 1e-6),
        math.log2(hp.batch_size),
        *[float(hp.optimizer == name) for name in optimizers],
        math.log2(1 + arch.head.hidden_units),
        math.log2(1 + width),
    ]
    return np.asarray(row, dtype=float)


def shape_of(arch: Architecture) -> tuple[str, ...]:
    """The block names in order: what a hyperparameter or argument mutant shares with its parent."""
    return tuple(block.name for block in arch.blocks)


class RidgeEnsemble:
    """Bootstrap ensemble of ridge regressions on standardised features."""

    def __init__(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                 size: int = ENSEMBLE_SIZE, alpha: float = RIDGE_ALPHA):
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.scale[self.scale < 1e-12] = 1.0
        self.y_mean = float(y.mean())
        self.y_scale = float(y.std()) or 1.0
        z = (x - self.mean) / self.scale
        t = (y - self.y_mean) / self.y_scale
        self.models = []
        for member in range(size):
            # The first member sees every trial; the others a bootstrap resample.
            rows = np.arange(len(t)) if member == 0 else rng.integers(len(t), size=len(t))
            zb, tb = z[rows], t[rows]
            zc, tc = zb - zb.mean(axis=0), tb - tb.mean()
            weights = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ tc)
            self.models.append((weights, float(tb.mean() - zb.mean(axis=0) @ weights)))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the members' predictions, in score units."""
        z = (x - self.mean) / self.scale
        predictions = np.stack([z @ w + b for w, b in self.models]) * self.y_scale + self.y_mean
        return predictions.mean(axis=0), predictions.std(axis=0)


class SurrogateSearch:
    name = "surrogate"

    def __init__(self, min_history: int = MIN_HISTORY, ensemble_size: int = ENSEMBLE_SIZE,
                 alpha: float = RIDGE_ALPHA, exploration: float = EXPLORATION, top_k: int = TOP_K,
                 mutations: int = MUTATIONS, random_samples: int = RANDOM_SAMPLES, diversity: float = DIVERSITY):
        self.min_history = max(2, min_history)
        self.ensemble_size = ensemble_size
        self.alpha = alpha
        self.exploration = exploration
        self.top_k = top_k
        self.mutations = mutations
        self.random_samples = random_samples
        self.diversity = diversity

    def fit(self, history: Sequence[Trial], space: SearchSpace, rng: np.random.Generator,
            objective: ObjectiveLike) -> Optional[RidgeEnsemble]:
        done = completed(history)
        if len(done) < self.min_history:
            return None
        scores = [t.score(objective) for t in done]
        finite = [s for s in scores if math.isfinite(s)]
        if len(finite) < self.min_history:
            return None
        worst = min(finite)
        rows, targets = [], []
        for trial in history:
            if trial.status == FAILED:
                value = worst
            elif trial.completed:
                value = trial.score(objective)
                if not math.isfinite(value):
                    value = worst
            else:
                continue
            rows.append(features(trial.architecture, space))
            targets.append(value)
        return RidgeEnsemble(np.stack(rows), np.asarray(targets), rng, self.ensemble_size, self.alpha)

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int,
                rng: np.random.Generator, objective: ObjectiveLike) -> list[Candidate]:
        seen = seen_ids(history)
        model = self.fit(history, space, rng, objective)
        if model is None:
            proposals = []
            for _ in range(count):
                arch = sample_new(space, rng, seen)
                seen.add(arch.arch_id)
                proposals.append(Candidate(arch))
            return proposals

        pool: list[Candidate] = []
        pooled: set[str] = set()

        def offer(candidate: Candidate) -> None:
            key = candidate.architecture.arch_id
            if key not in seen and key not in pooled:
                pooled.add(key)
                pool.append(candidate)

        parents = rank_trials(history, objective)[: self.top_k]
        for index in range(self.mutations):
            parent = parents[index % len(parents)]
            child = mutate(parent.architecture, space, rng, exclude=frozenset(seen))
            if rng.random() < 0.5:
                child = mutate(child, space, rng, exclude=frozenset(seen))
            offer(Candidate(child, parent=parent.trial_id, transfer=TRANSFER_WEIGHTS))
        for _ in range(self.random_samples):
            offer(Candidate(sample_new(space, rng, seen, attempts=4)))
        proposals: list[Candidate] = []
        if pool:
            mean, std = model.predict(np.stack([features(c.architecture, space) for c in pool]))
            tried = Counter(shape_of(t.architecture) for t in history if t.status != PROPOSED)
            crowding = np.asarray([tried[shape_of(c.architecture)] for c in pool]) / max(1, sum(tried.values()))
            acquisition = mean + self.exploration * std - self.diversity * model.y_scale * crowding
            order = sorted(range(len(pool)), key=lambda i: (-acquisition[i], i))
            per_shape, cap = Counter(), max(1, count // 2)
            for i in order:
                shape = shape_of(pool[i].architecture)
                if per_shape[shape] < cap and len(proposals) < count:
                    per_shape[shape] += 1
                    proposals.append(pool[i])
        for _ in range(count - len(proposals)):  # a tiny, nearly exhausted space
            arch = sample_new(space, rng, seen | {c.architecture.arch_id for c in proposals})
            proposals.append(Candidate(arch))
        return proposals
