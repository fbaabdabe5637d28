"""Knowledge distillation: a student learns from the true labels and from a
teacher's soft predictions (Hinton et al., 2015)."""

from __future__ import annotations

from typing import Optional, Sequence

import keras
import numpy as np

from search_algo.objective import ObjectiveLike, as_objective
from search_algo.trial import Trial, rank_trials

EPSILON = 1e-7


def distillation_targets(labels: np.ndarray, teacher: np.ndarray, task: str) -> np.ndarray:
    """What `fit` receives as y: [one-hot labels | teacher probabilities] for
    classification, [label, teacher prediction] for regression. Classification
    labels are class indices, or one-hot (or mixed) rows already."""
    if task == "classification":
        one_hot = labels.astype(np.float32) if labels.ndim == 2 else one_hot_labels(labels, teacher.shape[-1])
        return np.concatenate([one_hot, teacher.astype(np.float32)], axis=-1)
    return np.stack([labels.reshape(-1), teacher.reshape(-1)], axis=-1).astype(np.float32)


def one_hot_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels.astype(np.int64)]


@keras.saving.register_keras_serializable(package="search_algo")
class DistillationLoss(keras.losses.Loss):
    """alpha * loss(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T).

    The student outputs probabilities; tempering them is a softmax of
    log-probabilities divided by T, the same as dividing logits by T.
    For regression the soft term is the squared error to the teacher.
    """

    def __init__(self, num_classes: int, temperature: float = 2.0, alpha: float = 0.5,
                 task: str = "classification", label_scale: float = 1.0, name: str = "distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.task = task
        self.label_scale = float(label_scale)

    def call(self, y_true, y_pred):
        ops = keras.ops
        if self.task != "classification":
            prediction = ops.reshape(y_pred, (-1,))
            label = (y_true[:, 0] - prediction) / self.label_scale
            soft = (y_true[:, 1] - prediction) / self.label_scale
            return self.alpha * ops.square(label) + (1 - self.alpha) * ops.square(soft)
        labels, teacher = y_true[:, : self.num_classes], y_true[:, self.num_classes :]
        student = ops.clip(y_pred, EPSILON, 1.0)
        hard = -ops.sum(labels * ops.log(student), axis=-1)
        t = self.temperature
        student_t = ops.softmax(ops.log(student) / t, axis=-1)
        teacher_t = ops.softmax(ops.log(ops.clip(teacher, EPSILON, 1.0)) / t, axis=-1)
        kl = ops.sum(teacher_t * (ops.log(ops.clip(teacher_t, EPSILON, 1.0)) - ops.log(ops.clip(student_t, EPSILON, 1.0))), axis=-1)
        return self.alpha * hard + (1 - self.alpha) * (t**2) * kl

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "temperature": self.temperature,
            "alpha": self.alpha,
            "task": self.task,
            "label_scale": self.label_scale,
        }


@keras.saving.register_keras_serializable(package="search_algo")
class DistilledAccuracy(keras.metrics.Metric):
    """Accuracy against the hard labels inside distillation targets."""

    def __init__(self, num_classes: int, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.correct = self.add_weight(name="correct", initializer="zeros")
        self.total = self.add_weight(name="total", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        labels = ops.argmax(y_true[:, : self.num_classes], axis=-1)
        hits = ops.cast(ops.equal(labels, ops.argmax(y_pred, axis=-1)), "float32")
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.cast(ops.shape(hits)[0], "float32"))

    def result(self):
        return self.correct / keras.ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def compile_for_distillation(model: keras.Model, hyperparameters, spec, temperature: float, alpha: float) -> None:
    """Compiles `model` to learn from distillation targets (`distillation_targets`):
    the optimizer of its hyperparameters, the mixed loss, accuracy on the hard labels."""
    from search_algo.model_builder import make_optimizer

    num_classes = max(spec.num_classes, 1)
    loss = DistillationLoss(num_classes=num_classes, temperature=temperature, alpha=alpha, task=spec.task,
                            label_scale=float(spec.label_std or 1.0))
    metrics = [DistilledAccuracy(num_classes)] if spec.task == "classification" else []
    model.compile(optimizer=make_optimizer(hyperparameters), loss=loss, metrics=metrics)


def choose_teacher(history: Sequence[Trial], objective: ObjectiveLike) -> Optional[Trial]:
    """The teacher for distillation during the search: the best completed trial
    so far whose model is on disk; None for regression, whose soft labels are
    just another regression target and add little."""
    objective = as_objective(objective)
    if objective.task != "classification":
        return None
    ranked = [t for t in rank_trials(history, objective) if t.path]
    return ranked[0] if ranked else None


# --- choosing the student ----------------------------------------------------------
# Arguments that set a block's width: shrinking them shrinks the model.
WIDTH_ARGS = ("units", "filters", "rank", "key_dim", "ff_dim", "model_dim", "num_heads")
# Shrinking these too gives finer steps than halving a width: a kernel of 7 to 5 keeps
# the channels and cuts that block's weights by 2/7.
SHRINKABLE_ARGS = WIDTH_ARGS + ("kernel_size",)
# A trial is a usable student if it kept at least this share of the best
# trial's gain over chance (a majority-free guess, or predicting the mean)...
USABLE_SHARE = 0.5
# ...and has at least this share of the parameters that narrowing the best
# architecture reaches within the budget: a far smaller trial leaves most of the
# student's capacity unused.
USABLE_SIZE_SHARE = 0.5


def _smaller_value(spec, value):
    """The next smaller allowed value of an integer argument (a width or a
    kernel size), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if spec.is_choice:
        smaller = [c for c in spec.choices if isinstance(c, int) and not isinstance(c, bool) and c < value]
        return max(smaller) if smaller else None
    candidate = max(int(spec.low), value // 2)
    return candidate if candidate < value else None


def single_steps(architecture, floors=None):
    """Every architecture one step smaller in one place: one argument of one
    block (a width, or a kernel size) at its next smaller allowed value, or
    the head's hidden layer halved. `floors` (one mapping a block, and
    "head") holds values a width may not go under."""
    from search_algo.blocks.registry import get_block

    floors = floors or {}
    steps = []
    raw = [{"name": block.name, "args": dict(block.args)} for block in architecture.blocks]
    for index, block in enumerate(architecture.blocks):
        specs = get_block(block.name).args
        for name in SHRINKABLE_ARGS:
            if name in specs and name in block.args:
                smaller = _smaller_value(specs[name], block.args[name])
                if smaller is not None and smaller >= floors.get(index, {}).get(name, smaller):
                    blocks = [dict(b, args=dict(b["args"])) for b in raw]
                    blocks[index]["args"][name] = smaller
                    steps.append(architecture.with_blocks(blocks))
    hidden = architecture.head.hidden_units
    smaller_head = hidden // 2 if hidden >= 16 else 0
    if hidden and smaller_head >= floors.get("head", 0):
        steps.append(architecture.with_head(hidden_units=smaller_head))
    return steps


def _width_floors(start, coarse) -> dict:
    """What the fine walk may not narrow under: each block's widths as the
    coarse walk left them (a block it dropped keeps its own), so filling the
    budget never makes a block narrower than the coarse fit did."""
    floors = {"head": coarse.head.hidden_units}
    for index, block in enumerate(start.blocks):
        source = coarse.blocks[index] if index < coarse.depth and coarse.blocks[index].name == block.name else block
        floors[index] = {name: source.args[name] for name in WIDTH_ARGS if name in source.args}
    return floors


def shrink_to_budget(architecture, count_params, budget: int, max_steps: int = 64, fill: bool = True):
    """A large model within `budget` parameters, found by two greedy walks over
    one-step shrinks (`single_steps`). The coarse walk takes the step that
    removes the most, which narrows the heaviest block first and keeps the
    widths balanced, until the model fits (when nothing can shrink any more,
    it drops the last block). Halving widths can land far under the budget, so
    the fine walk goes again from the last model over the budget taking the
    step that removes the least, never narrowing a block under the coarse
    fit's widths: it fills the budget with smaller kernels and the widths the
    coarse walk halved last. `fill=False`: the coarse walk alone. Returns the
    larger fit and its parameter count; the smallest model reached if the
    budget cannot be met."""
    sizes = {}

    def size_of(candidate):
        key = candidate.to_json()
        if key not in sizes:
            try:
                sizes[key] = count_params(candidate)
            except Exception:  # noqa: BLE001 - a shape that no longer builds (e.g. too many heads)
                sizes[key] = None
        return sizes[key]

    def walk(current, size, pick, floors=None):
        last_over = None
        for _ in range(max_steps):
            if size <= budget:
                break
            options = [(size_of(c), c) for c in single_steps(current, floors)]
            options = [(s, c) for s, c in options if s is not None and s < size]
            if not options and floors is None and current.depth > 1:
                shorter = current.remove_block(current.depth - 1)
                options = [(size_of(shorter), shorter)] if size_of(shorter) is not None else []
            if not options:
                break
            last_over = (current, size)
            size, current = pick(options, key=lambda option: option[0])
        return current, size, last_over

    coarse, coarse_size, last_over = walk(architecture, count_params(architecture), min)
    if not fill or coarse_size > budget or last_over is None:
        return coarse, coarse_size
    start, start_size = last_over
    fine, fine_size, _ = walk(start, start_size, max, _width_floors(start, coarse))
    if coarse_size < fine_size <= budget:
        return fine, fine_size
    return coarse, coarse_size


def usable_threshold(best_score: float, chance_score: float) -> float:
    """The eval score a student from the search must reach to be used as is."""
    return chance_score + USABLE_SHARE * (best_score - chance_score)


# --- function matching: the teacher labels fresh inputs every epoch --------------
# Augmentations the Distiller can apply to the transfer set.
AUGMENTATIONS = ("none", "mixup")
# Beta(a, a) for the mixing weight: most pairs stay close to one of the two examples.
MIXUP_ALPHA = 0.4


def mixup_features(features: dict, labels: np.ndarray, rng: np.random.Generator,
                   alpha: float = MIXUP_ALPHA) -> tuple[dict, np.ndarray]:
    """Every example mixed with a random partner (Zhang et al., 2018): float
    features are interpolated, other features (strings) kept from the example
    that weighs more, which is always the first (the weight is at least 0.5).
    `labels` are one-hot rows (classification) or values (regression);
    returns the mixed features and the labels mixed the same way."""
    count = len(labels)
    partner = rng.permutation(count)
    weight = rng.beta(alpha, alpha, count).astype(np.float32)
    weight = np.maximum(weight, 1.0 - weight)
    mixed = {}
    for name, values in features.items():
        if np.issubdtype(values.dtype, np.floating):
            shaped = weight.reshape((-1,) + (1,) * (values.ndim - 1))
            mixed[name] = (shaped * values + (1.0 - shaped) * values[partner]).astype(values.dtype)
        else:
            mixed[name] = values
    shaped = weight.reshape((-1,) + (1,) * (labels.ndim - 1))
    return mixed, (shaped * labels + (1.0 - shaped) * labels[partner]).astype(np.float32)
