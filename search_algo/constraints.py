"""Constraint-aware search: limits every proposed candidate must satisfy.

`max_params` (weights, counted on the built model) and `max_latency_ms`
(median batch-1 CPU latency of the model's forward pass) are checked before
a candidate is trained, so no algorithm spends a trial on an architecture
that cannot satisfy them. `ConstrainedAlgorithm` wraps any algorithm: it asks
for candidates, turns away those over a limit, and asks again - with the
turned-away ones in the history as in-flight trials, so no algorithm offers
them twice - until the round is full or the attempts are spent; the space's
random samples fill what is left. The wrapper draws only from the round's
generator, so a re-run proposes the same candidates.

The forward-pass latency measured here leaves out the serving signature's
tf.Example parsing, which the SearchEvaluator's latency includes: the
SearchEvaluator measures every candidate again, through the signature, and
a candidate over a limit there is not eligible to be chosen.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Callable, Optional, Sequence

import numpy as np

from search_algo.algorithms import Candidate
from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.objective import ObjectiveLike
from search_algo.search_space import SearchSpace
from search_algo.trial import PROPOSED, Trial

# How often the wrapped algorithm is asked again before random samples fill the round.
ALGORITHM_ATTEMPTS = 8
# Random samples tried per missing candidate after that.
RANDOM_ATTEMPTS = 40
LATENCY_REPEATS = 15


@dataclasses.dataclass(frozen=True)
class Cost:
    num_params: int
    latency_ms: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Constraints:
    """0 means no limit."""

    max_params: int = 0
    max_latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.max_params, bool) or not isinstance(self.max_params, int) or self.max_params < 0:
            raise UserError(f"max_params must be a non-negative integer, got {self.max_params!r}")
        if not isinstance(self.max_latency_ms, (int, float)) or not self.max_latency_ms >= 0:
            raise UserError(f"max_latency_ms must be a non-negative number, got {self.max_latency_ms!r}")

    @property
    def active(self) -> bool:
        return bool(self.max_params or self.max_latency_ms)

    def violations(self, num_params: Optional[int], latency_ms: Optional[float]) -> list[str]:
        """Why a model with this size and latency is over a limit (empty: it is within)."""
        reasons = []
        if self.max_params and num_params is not None and num_params > self.max_params:
            reasons.append(f"{num_params:,} parameters > max_params {self.max_params:,}")
        if self.max_latency_ms and latency_ms is not None and latency_ms > self.max_latency_ms:
            reasons.append(f"{latency_ms:.2f} ms batch-1 latency > max_latency_ms {self.max_latency_ms:g}")
        return reasons

    def describe(self) -> str:
        parts = []
        if self.max_params:
            parts.append(f"at most {self.max_params:,} parameters")
        if self.max_latency_ms:
            parts.append(f"batch-1 CPU latency at most {self.max_latency_ms:g} ms")
        return ", ".join(parts) or "none"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Constraints":
        return cls(**json.loads(text)) if text else cls()


CostOf = Callable[[Architecture], Cost]


class ModelCost:
    """The cost of an architecture on the data, from the built, untrained
    model: its parameters, and its latency when the constraints limit it
    (and the size is within its limit). Memoised by architecture id."""

    def __init__(self, dataset_spec, constraints: Constraints):
        self.dataset_spec, self.constraints = dataset_spec, constraints
        self._costs: dict[str, Cost] = {}

    def __call__(self, architecture: Architecture) -> Cost:
        key = architecture.arch_id
        if key not in self._costs:
            self._costs[key] = self._measure(architecture)
        return self._costs[key]

    def _measure(self, architecture: Architecture) -> Cost:
        import keras

        from search_algo.model_builder import build_model, parameter_count

        try:
            model = build_model(architecture, self.dataset_spec, compile=False)
            num_params = parameter_count(model)
            latency = None
            if self.constraints.max_latency_ms and not self.constraints.violations(num_params, None):
                latency = forward_latency_ms(model, self.dataset_spec)
            return Cost(num_params, latency)
        finally:
            # Without Python's garbage collection: a proposal round may build a couple of hundred
            # models, and a full collection in a large process takes a good part of a second each.
            keras.backend.clear_session(free_memory=False)


def training_cost(cost_of: CostOf, epochs: int) -> Callable[[Trial], float]:
    """What a proposed trial is expected to cost to train, to deal a round's
    trials to its trainers (search_algo/proposals.py): its model's parameters
    times the epochs it trains (`planned_epochs`, else the study's `epochs`).
    Parameters stand in for time: over the 141 completed trials of mnist1d's
    time-to-accuracy runs, log parameters and log seconds per epoch correlate
    at 0.86 (benchmarks/results/time_to_accuracy_product.json). A model that
    cannot be built costs nothing: it fails at once in its trainer."""
    def cost(trial: Trial) -> float:
        try:
            num_params = cost_of(trial.architecture).num_params
        except Exception:  # noqa: BLE001 - the trainer records why it cannot be built
            return 0.0
        return float(num_params or 0) * (trial.planned_epochs or epochs)
    return cost


def forward_latency_ms(model, dataset_spec, repeats: int = LATENCY_REPEATS) -> float:
    """Median ms of one batch-1 forward pass (compiled, after a warm-up call)."""
    import tensorflow as tf

    batch = {
        feature.name: (np.zeros((1, *feature.shape), np.float32) if feature.dtype == "float32"
                       else np.full((1, *feature.shape), "", object))
        for feature in dataset_spec.features
    }
    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward(batch)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(batch)
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.median(timings))


@dataclasses.dataclass
class Rejection:
    architecture: Architecture
    reasons: list[str]


class ConstrainedAlgorithm:
    """An algorithm whose proposals all satisfy the constraints."""

    def __init__(self, inner, constraints: Constraints, cost_of: CostOf):
        self.inner, self.constraints, self.cost_of = inner, constraints, cost_of
        self.name = inner.name
        self.rejected: list[Rejection] = []

    def propose(self, history: Sequence[Trial], space: SearchSpace, count: int, rng: np.random.Generator,
                objective: ObjectiveLike) -> list[Candidate]:
        if not self.constraints.active:
            return self.inner.propose(history, space, count, rng, objective)
        kept: list[Candidate] = []
        seen = {t.architecture.arch_id for t in history}
        in_flight: list[Trial] = []
        for _ in range(ALGORITHM_ATTEMPTS):
            if len(kept) == count:
                break
            offered = self.inner.propose(list(history) + in_flight, space, count - len(kept), rng, objective)
            if not offered:
                break
            for candidate in offered:
                if candidate.architecture.arch_id in seen:
                    continue
                seen.add(candidate.architecture.arch_id)
                in_flight.append(_in_flight(candidate.architecture, len(in_flight)))
                if self._within(candidate.architecture) and len(kept) < count:
                    kept.append(candidate)
        # What the algorithm could not offer within the limits, random samples can.
        for _ in range(RANDOM_ATTEMPTS * (count - len(kept))):
            if len(kept) == count:
                break
            architecture = space.sample(rng)
            if architecture.arch_id in seen:
                continue
            seen.add(architecture.arch_id)
            if self._within(architecture):
                kept.append(Candidate(architecture, algorithm=f"{self.name}+random"))
        if not kept:
            raise UserError(self._nothing_fits())
        return kept

    def _within(self, architecture: Architecture) -> bool:
        cost = self.cost_of(architecture)
        reasons = self.constraints.violations(cost.num_params, cost.latency_ms)
        if reasons:
            self.rejected.append(Rejection(architecture, reasons))
        return not reasons

    def _nothing_fits(self) -> str:
        smallest = min((self.cost_of(r.architecture).num_params for r in self.rejected), default=math.inf)
        return (f"no architecture of the search space satisfies the constraints ({self.constraints.describe()}) "
                f"after {len(self.rejected)} tries; the smallest had {smallest:,} parameters: raise the limits or "
                "narrow the search space (fewer filters or units, smaller max_depth)")


def _in_flight(architecture: Architecture, index: int) -> Trial:
    return Trial(trial_id=f"constraint-pending-{index}", round=-1, trainer=-1, architecture=architecture, seed=0,
                 algorithm="", run_id="", study="", status=PROPOSED)
