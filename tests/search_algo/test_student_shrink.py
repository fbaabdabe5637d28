"""Shrinking an architecture to a parameter budget (the distilled student)."""

from __future__ import annotations

from search_algo.architecture import Architecture
from search_algo.distillation import narrower, shrink_to_budget, usable_threshold
from search_algo.model_builder import build_model, parameter_count
from search_algo.stack import normalize
from search_algo.testing import sequence_spec


def count_for(spec):
    return lambda arch: parameter_count(build_model(arch, spec, compile=False))


def test_narrower_steps_widths_down_to_allowed_values():
    spec = sequence_spec()
    arch = normalize(Architecture.from_dict({"blocks": [{"name": "conv1d", "args": {"filters": 64}},
                                                        "global_avg_pool", {"name": "dense", "args": {"units": 128}}],
                                             "head": {"hidden_units": 32}}), spec.input_kind)
    smaller = narrower(arch)
    assert smaller.blocks[0].args["filters"] == 32 and smaller.blocks[2].args["units"] == 64
    assert smaller.head.hidden_units == 16
    assert smaller.hyperparameters == arch.hyperparameters


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
