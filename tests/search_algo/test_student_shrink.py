"""Shrinking an architecture to a parameter budget (the distilled student)."""

from __future__ import annotations

import pytest

from search_algo.architecture import Architecture
from search_algo.distillation import shrink_to_budget, single_steps, usable_threshold
from search_algo.model_builder import build_model, parameter_count
from search_algo.stack import normalize
from search_algo.testing import sequence_spec


def count_for(spec):
    return lambda arch: parameter_count(build_model(arch, spec, compile=False))


def test_single_steps_shrink_one_argument_of_one_block_at_a_time_to_allowed_values():
    spec = sequence_spec()
    arch = normalize(Architecture.from_dict({"blocks": [{"name": "conv1d", "args": {"filters": 64, "kernel_size": 7}},
                                                        "global_avg_pool", {"name": "dense", "args": {"units": 128}}],
                                             "head": {"hidden_units": 32}}), spec.input_kind)
    steps = single_steps(arch)
    changes = sorted(
        [(i, name, step.blocks[i].args[name]) for step in steps for i, block in enumerate(arch.blocks)
         for name in block.args if step.blocks[i].args[name] != block.args[name]]
        + [("head", "hidden_units", step.head.hidden_units) for step in steps if step.head != arch.head], key=str)
    assert changes == sorted([(0, "filters", 32), (0, "kernel_size", 5), (2, "units", 64),
                              ("head", "hidden_units", 16)], key=str)
    assert len(steps) == 4 and all(step.hyperparameters == arch.hyperparameters for step in steps)
    floored = single_steps(arch, {0: {"filters": 64}, 2: {"units": 128}, "head": 32})
    assert [step.blocks[0].args["kernel_size"] for step in floored] == [5]


@pytest.mark.slow
def test_filling_the_budget_gives_a_larger_student_no_block_narrower_than_the_coarse_fit():
    spec = sequence_spec(steps=40)
    count = count_for(spec)
    arch = normalize(Architecture.from_dict({"blocks": [{"name": "resnet1d", "args": {"filters": 32, "kernel_size": 7}}] * 2
                                                       + ["global_avg_pool"]}), spec.input_kind)
    budget = 3000
    coarse, coarse_size = shrink_to_budget(arch, count, budget, fill=False)
    filled, filled_size = shrink_to_budget(arch, count, budget)
    assert coarse_size < filled_size <= budget and filled_size == count(filled)
    assert [b.name for b in filled.blocks] == [b.name for b in arch.blocks]
    for narrow, full in zip(coarse.blocks, filled.blocks):
        assert full.args.get("filters", 0) >= narrow.args.get("filters", 0)
    # Halving the widths from 32 lands at 8 filters, about half the budget; filling gets close to it.
    assert {b.args["filters"] for b in coarse.blocks if "filters" in b.args} == {8}
    assert coarse_size < 0.6 * budget < 0.8 * budget < filled_size


@pytest.mark.slow
def test_shrink_to_budget_fits_and_keeps_the_block_kinds_when_it_can():
    spec = sequence_spec()
    count = count_for(spec)
    arch = normalize(Architecture.from_dict({"blocks": [{"name": "conv1d", "args": {"filters": 64}},
                                                        "global_avg_pool", {"name": "dense", "args": {"units": 256}}]}),
                     spec.input_kind)
    full = count(arch)
    shrunk, size = shrink_to_budget(arch, count, full // 4)
    assert size <= full // 4 and size == count(shrunk)
    assert [b.name for b in shrunk.blocks] == [b.name for b in arch.blocks]
    # An impossible budget returns the smallest reachable model, never an error.
    tiny, tiny_size = shrink_to_budget(arch, count, 1)
    assert tiny_size < size and tiny_size == count(tiny)


def test_usable_threshold_is_half_the_gain_over_chance():
    assert usable_threshold(0.9, 0.1) == 0.5
    assert usable_threshold(-2.0, -10.0) == -6.0
