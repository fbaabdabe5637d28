"""From an algorithm's candidates to proposed trial records.

The Proposer component and the benchmarks both turn candidates into trials
here, so seeds, trial ids, weight sharing and teachers follow one rule.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from search_algo.algorithms import Candidate
from search_algo.distillation import choose_teacher
from search_algo.trial import TRANSFER_NONE, Trial
from search_algo.objective import ObjectiveLike


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
) -> list[Trial]:
    """Trials `{run_id}-r{round}-{index}`, dealt to trainers in order.

    A child shares its parent's weights only when the parent's files exist
    (`path`); with `teacher_distillation`, every trial of the round learns
    from the best completed trial so far as well (classification only)."""
    by_id = {t.trial_id: t for t in history}
    teacher = choose_teacher(history, objective) if teacher_distillation else None
    trials = []
    for index, candidate in enumerate(candidates):
        parent = by_id.get(candidate.parent) if candidate.parent else None
        shares = weight_sharing and parent is not None and bool(parent.path)
        trials.append(
            Trial(
                trial_id=f"{run_id}-r{round_index}-{index:02d}",
                round=round_index,
                trainer=index // trials_per_trainer,
                architecture=candidate.architecture,
                seed=derived_seed(seed, study, run_id, round_index, index, "train"),
                algorithm=candidate.algorithm or algorithm,
                run_id=run_id,
                study=study,
                parent=candidate.parent,
                transfer=candidate.transfer if shares else TRANSFER_NONE,
                teacher=teacher.trial_id if teacher else None,
            )
        )
    return trials
