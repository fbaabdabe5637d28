"""The evaluation settings of a study config: select, ensemble_weights, student."""

from __future__ import annotations

import json

import pytest

from pipeline.config import build_config
from search_algo.errors import UserError


def test_defaults_and_normalised_values():
    config = build_config({"dataset": "digits"}, {})
    assert (config.select, config.ensemble_weights, config.student) == ("best", "auto", None)
    config = build_config({"dataset": "digits", "select": "Smallest-Within=0.50",
                           "student": {"blocks": [{"name": "dense"}]}}, {"ensemble_weights": "learned"})
    assert config.select == "smallest-within=0.5" and config.ensemble_weights == "learned"
    assert json.loads(config.student) == {"blocks": [{"name": "dense"}]}
    assert (config.distill_temperature, config.distill_alpha) == (2.0, 0.5)
    config = build_config({"dataset": "digits", "distill_temperature": 4, "distill_alpha": 0.2}, {})
    assert (config.distill_temperature, config.distill_alpha) == (4.0, 0.2)
    assert build_config({"dataset": "digits"}, {}).distill_augment == "none"
    assert build_config({"dataset": "digits", "distill_augment": "mixup"}, {}).distill_augment == "mixup"


@pytest.mark.parametrize("values, message", [
    ({"select": "fastest"}, "smallest-within=X"),
    ({"ensemble_weights": "median"}, "ensemble_weights"),
    ({"student": 3}, "student"),
    ({"distill_temperature": 0}, "distill_temperature"),
    ({"distill_alpha": 1.5}, "distill_alpha"),
    ({"distill_alpha": "half"}, "distill_alpha"),
    ({"distill_augment": "cutmix"}, "distill_augment"),
])
def test_bad_values_are_user_errors(values, message):
    with pytest.raises(UserError, match=message):
        build_config({"dataset": "digits", **values}, {})
