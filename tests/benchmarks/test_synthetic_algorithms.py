"""The synthetic comparison's table, from a hand-made raw report, and one real seed."""

from __future__ import annotations

import pytest

from benchmarks import synthetic_algorithms


def test_table_gives_each_algorithms_median_lowest_and_highest():
    report = {"command": "benchmarks/synthetic_algorithms.py", "seeds": [0, 1, 2], "rounds": 5, "per_round": 4,
              "blocks": ["conv1d", "dense"], "machine": "m", "date": "d", "commit": "c",
              "scores": {"random": [0.5, 0.7, 0.6], "beam": [0.9, 0.8, 0.85]}}
    text = synthetic_algorithms.markdown(report)
    assert "| random | 0.6000 | 0.5000 | 0.7000 |" in text and "| beam | 0.8500 | 0.8000 | 0.9000 |" in text
    assert "5 rounds of 4 proposals, seeds 0-2" in text


@pytest.mark.slow
def test_one_seed_scores_every_algorithm_and_repeats_itself():
    first = synthetic_algorithms.measure([0], rounds=2, per_round=4)
    assert set(first) == set(synthetic_algorithms.ALGORITHMS)
    assert all(0 < scores[0] <= 1 for scores in first.values())
    assert synthetic_algorithms.measure([0], rounds=2, per_round=4) == first
