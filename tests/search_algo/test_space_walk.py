"""The space's define-by-run walk, and replaying an architecture through it."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.search_space import SearchSpace
from search_algo.space_walk import NotInSpace, architecture_from, replay

SPACE = SearchSpace.from_dict({"blocks": ["conv1d", "resnet1d", "lstm", "dense", "global_avg_pool"],
                               "max_depth": 3}, "sequence")


class Answers:
    """A Suggest drawing from a seeded generator, as a tuner would."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def boolean(self, name):
        return bool(self.rng.integers(2))

    def choice(self, name, values):
        return values[int(self.rng.integers(len(values)))]

    def integer(self, name, low, high, log):
        return int(self.rng.integers(low, high + 1))

    def real(self, name, low, high, log):
        return float(self.rng.uniform(low, high))


@pytest.mark.parametrize("seed", range(20))
def test_replaying_a_drawn_architecture_gives_its_draws_back(seed):
    drawn = architecture_from(Answers(seed), SPACE)
    draws = replay(drawn, SPACE)
    assert draws[0].name == "depth" and draws[0].value == drawn.depth
    block_names = [d.value for d in draws if d.kind == "choice" and d.name.startswith("block")
                   and d.name.split("_", 1)[1] == "-".join(map(str, d.values))]
    assert block_names == [b.name for b in drawn.blocks]

    class Again:
        """Answers each draw with the replayed value: the walk must give the same architecture."""
        values = {d.name: d.value for d in draws}

        def boolean(self, name):
            return self.values[name]

        def choice(self, name, values):
            assert self.values[name] in values
            return self.values[name]

        def integer(self, name, low, high, log):
            return self.values[name]

        def real(self, name, low, high, log):
            return self.values[name]

    assert architecture_from(Again(), SPACE) == drawn


def test_the_spaces_own_samples_replay_and_foreign_ones_do_not():
    for seed in range(10):
        sampled = SPACE.sample(np.random.default_rng(seed))
        assert replay(sampled, SPACE), "every architecture the space samples can be told to a tuner"
    narrow = SearchSpace.from_dict({"blocks": ["dense"], "max_depth": 1}, "sequence")
    with pytest.raises(NotInSpace):
        replay(SPACE.sample_stack(("conv1d", "conv1d"), np.random.default_rng(0)), narrow)
