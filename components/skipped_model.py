"""A post-search model not made because the run's time budget left too
little time for it (search_algo/time_budget.py): the Ensembler's ensemble, the
Distiller's student.

TFX needs every output artifact, so the model artifact exists, without files,
and says why in a property; the nodes after it go on without it: the
Distiller makes no student without an ensemble, the SearchEvaluator leaves
the candidate out of the leaderboard (listing it under `skipped`), and the
chosen model is one of the others.
"""

from __future__ import annotations

import logging

from tfx import types

from components.keys import CANDIDATE_PROPERTY, MEMBERS_PROPERTY, NUM_PARAMS_PROPERTY, SKIPPED_REASON_PROPERTY

log = logging.getLogger(__name__)


def skip(model: types.Artifact, candidate: str, reason: str) -> None:
    """`model` (the `candidate`: ensemble or distilled) is not made, for `reason`."""
    model.set_string_custom_property(SKIPPED_REASON_PROPERTY, reason)
    model.set_string_custom_property(CANDIDATE_PROPERTY, candidate)
    model.set_string_custom_property(MEMBERS_PROPERTY, "[]")
    model.set_int_custom_property(NUM_PARAMS_PROPERTY, 0)
    log.warning("no %s: %s", candidate, reason)


def skipped_reason(model: types.Artifact) -> str:
    """Why `model` was not made; empty when it was."""
    return model.get_string_custom_property(SKIPPED_REASON_PROPERTY) if model.has_custom_property(
        SKIPPED_REASON_PROPERTY) else ""
