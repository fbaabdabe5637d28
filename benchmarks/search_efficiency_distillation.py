"""The search-efficiency benchmark: weight sharing and distillation, measured
on children of the beam run retrained three ways."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency_data import Data, test_accuracy  # noqa: E402


def transfer_effect(history, data: Data, args, workdir: Path, pairs: int) -> list[dict]:
    """Children of the beam run that shared weights, re-trained three ways for
    the full epoch budget: from scratch, from the parent's weights, and from
    the parent's weights with the best trial of their time as teacher."""
    import keras

    from components.trainer.training import train_trial
    from search_algo.trial import TRANSFER_NONE, TRANSFER_WEIGHTS

    by_id = {t.trial_id: t for t in history}
    children = [t for t in history if t.transfer == TRANSFER_WEIGHTS and t.transferred_blocks
                and t.parent in by_id and by_id[t.parent].completed][:pairs]
    results = []
    for child in children:
        parent = by_id[child.parent]
        target = parent.metrics["accuracy"]
        row = {"child": child.trial_id, "parent": parent.trial_id, "blocks": child.block_names,
               "parent_eval_accuracy": target, "teacher": child.teacher}
        variants = {
            "scratch": dict(transfer=TRANSFER_NONE, teacher=None),
            "weights": dict(transfer=TRANSFER_WEIGHTS, teacher=None),
            "weights_teacher": dict(transfer=TRANSFER_WEIGHTS, teacher=child.teacher),
        }
        teacher = by_id.get(child.teacher or "")
        for name, change in variants.items():
            if name == "weights_teacher" and not (teacher and teacher.path):
                continue
            trial = dataclasses.replace(child, status="proposed", metrics={}, curve=[], stopped_early=False, **change)
            trial_dir = str(workdir / f"{child.trial_id}-{name}")
            done = train_trial(trial, data.spec, data.train.stream, data.evaluation.stream, args.epochs, None, trial_dir,
                               parent_dir=parent.path, teacher_dir=teacher.path if change["teacher"] else None)
            reached = next((i + 1 for i, v in enumerate(done.curve) if v >= target), None)
            row[name] = {
                "curve": done.curve, "epochs_to_parent": reached,
                "eval_accuracy": done.metrics.get("accuracy"),
                "test_accuracy": test_accuracy(trial_dir, data) if done.completed else None,
            }
            keras.backend.clear_session()
        results.append(row)
    return results

