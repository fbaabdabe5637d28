"""The search space: defaults, overrides, validation, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from search_algo.architecture import Architecture
from search_algo.blocks import get_block
from search_algo.errors import SearchSpaceError
from search_algo.model_builder import build_model
from search_algo.search_space import SearchSpace
from search_algo.stack import normalize, plan_stack
from search_algo.testing import image_spec, random_batch, sequence_spec, tabular_spec


@pytest.mark.parametrize("input_kind", ["tabular", "image", "sequence"])
def test_default_space_samples_valid_normalised_architectures(input_kind):
    space = SearchSpace.default(input_kind)
    rng = np.random.default_rng(0)
    seen_blocks = set()
    for _ in range(200):
        arch = space.sample(rng)
        plan_stack(arch, input_kind)  # raises if invalid
        assert arch == normalize(arch, input_kind)  # every argument written out
        assert space.min_depth <= arch.depth <= space.max_depth
        assert set(b.name for b in arch.blocks) <= set(space.blocks)
        seen_blocks.update(b.name for b in arch.blocks)
        hp = arch.hyperparameters
        assert 1e-4 <= hp.learning_rate <= 1e-2
        assert hp.optimizer in ("adam", "adamw") and hp.batch_size in (32, 64, 128)
    assert seen_blocks == set(space.blocks)  # every block is reachable in practice


def test_sampling_is_deterministic_for_a_seed():
    space = SearchSpace.default("sequence")
    first = [space.sample(np.random.default_rng(7)).arch_id for _ in range(3)]
    again = [space.sample(np.random.default_rng(7)).arch_id for _ in range(3)]
    assert first == again and len(set(first)) == 1
    stream = np.random.default_rng(7)
    assert len({space.sample(stream).arch_id for _ in range(10)}) > 5


@pytest.mark.parametrize(
    "spec_factory", [tabular_spec, image_spec, sequence_spec], ids=["tabular", "image", "sequence"]
)
@pytest.mark.slow
def test_sampled_architectures_build_and_train(spec_factory):
    spec = spec_factory()
    space = SearchSpace.from_dict(
        {
            "max_depth": 2,
            # Small widths keep the test fast; the structure is what is tested.
            "block_args": {
                name: {arg: spec_.choices[:1] for arg, spec_ in get_block(name).args.items()
                       if spec_.is_choice and arg in ("units", "filters", "ff_dim")}
                for name in SearchSpace.default(spec.input_kind).blocks
                if any(a in get_block(name).args for a in ("units", "filters", "ff_dim"))
            },
        },
        input_kind=spec.input_kind,
    )
    arch = space.sample(np.random.default_rng(3))
    model = build_model(arch, spec)
    features, labels = random_batch(spec)
    loss, _ = model.train_on_batch(features, labels)
    assert np.isfinite(loss)


def test_overrides_narrow_the_space():
    space = SearchSpace.from_dict(
        {
            "blocks": ["conv1d", "lstm"],
            "min_depth": 2,
            "max_depth": 3,
            "block_args": {"conv1d": {"filters": [16, 32], "kernel_size": 3}},
            "hyperparameters": {
                "learning_rate": {"low": 1e-3, "high": 2e-3, "log": True},
                "optimizer": ["sgd"],
                "batch_size": 16,
                "dropout": 0,
            },
            "head_hidden_units": [0],
        },
        input_kind="sequence",
    )
    rng = np.random.default_rng(1)
    for _ in range(50):
        arch = space.sample(rng)
        assert 2 <= arch.depth <= 3
        for block in arch.blocks:
            assert block.name in ("conv1d", "lstm")
            if block.name == "conv1d":
                assert block.args["filters"] in (16, 32) and block.args["kernel_size"] == 3
        hp = arch.hyperparameters
        assert 1e-3 <= hp.learning_rate <= 2e-3
        assert (hp.optimizer, hp.batch_size, hp.dropout) == ("sgd", 16, 0.0)
        assert arch.head.hidden_units == 0
    assert space.to_dict()["block_args"]["conv1d"]["kernel_size"] == {"default": 3, "choices": [3]}


def test_sampler_never_strands_a_stack():
    # After `flatten` only flat blocks fit; with depth fixed at 3 the sampler
    # must still finish every stack with blocks that can follow.
    space = SearchSpace.from_dict(
        {"blocks": ["conv2d", "flatten", "dense"], "min_depth": 3, "max_depth": 3},
        input_kind="image",
    )
    rng = np.random.default_rng(0)
    for _ in range(100):
        plan_stack(space.sample(rng), "image")


@pytest.mark.parametrize(
    "data,message",
    [
        ({"blocks": ["dense", "resnet9000"]}, "unknown block 'resnet9000'"),
        ({"blocks": []}, "at least one block"),
        ({"blocks": "dense"}, "must be a list"),
        ({"depth": 3}, r"unknown key\(s\) \['depth'\]"),
        ({"min_depth": 4, "max_depth": 2}, "min_depth <= max_depth"),
        ({"max_depth": 100}, "max_depth <= 32"),
        ({"blocks": ["dense", "conv2d"]}, r"block\(s\) \['conv2d'\] can never be placed"),
        ({"block_args": {"dense": {"units": [7]}}}, r"block_args 'dense'.units: must be one of"),
        ({"block_args": {"dense": {"width": [64]}}}, "'dense' has no argument 'width'"),
        ({"block_args": {"lstm": {"units": [64]}}}, "'lstm' is not in 'blocks'"),
        ({"block_args": {"dense": {"units": {"low": 1, "high": 9}}}}, "not a range"),
        ({"hyperparameters": {"momentum": [0.9]}}, "unknown hyperparameter 'momentum'"),
        ({"hyperparameters": {"optimizer": ["adagrad"]}}, "hyperparameters.optimizer"),
        ({"hyperparameters": {"learning_rate": {"low": 0.1, "high": 0.01}}}, "above high"),
        ({"hyperparameters": {"batch_size": []}}, "empty"),
        ({"input_kind": "image"}, "does not match"),
    ],
)
def test_bad_overrides_are_clear_errors(data, message):
    with pytest.raises(SearchSpaceError, match=message):
        SearchSpace.from_dict(data, input_kind="tabular")


def test_space_for_flat_only_blocks_on_images_is_valid_through_pooling():
    # dense on an image is legal (global average pooling is inserted).
    space = SearchSpace.from_dict({"blocks": ["dense"]}, input_kind="image")
    arch = space.sample(np.random.default_rng(0))
    assert isinstance(arch, Architecture) and plan_stack(arch, "image").blocks[0].connector


def audio_spec(train_size: int):
    spec = sequence_spec(steps=20, channels=8)
    spec.source = {"kind": "audio", "data": "clips/"}
    spec.split_sizes = {"train": train_size, "eval": 64, "test": 64}
    return spec


def test_audio_data_gets_the_audio_space_with_statistics_pooling_and_the_2d_path():
    space = SearchSpace.for_dataset(None, audio_spec(train_size=4096))
    assert {"statistics_pooling", "image_view", "conv2d", "conv1d"} <= set(space.blocks)
    assert space.starting_stacks[0] == ("statistics_pooling",)
    assert space.hyperparameters["learning_rate"].low == 1e-3  # five epochs leave no time for less
    plain = SearchSpace.for_dataset(None, sequence_spec())  # no source recorded: not audio
    assert plain.blocks == SearchSpace.default("sequence").blocks
    rng = np.random.default_rng(0)
    seen = {b.name for _ in range(300) for b in space.sample(rng).blocks}
    assert seen == set(space.blocks)


@pytest.mark.parametrize("train_size,batch_sizes", [
    (4096, [32, 64, 128]),
    (1024, [32, 64]),  # 128 would be 8 steps an epoch
    (512, [32]),
    (256, [16]),  # 32 would be 8 steps, 128 two: the largest power of two giving 16
    (100, [8]),  # never below 8
])
def test_batch_sizes_that_give_few_steps_an_epoch_are_not_sampled(train_size, batch_sizes):
    space = SearchSpace.for_dataset(None, audio_spec(train_size))
    assert space.hyperparameters["batch_size"].describe()["choices"] == batch_sizes
    rng = np.random.default_rng(1)
    assert {space.sample(rng).hyperparameters.batch_size for _ in range(50)} == set(batch_sizes)


def test_a_batch_size_the_user_gives_is_kept_on_small_data():
    space = SearchSpace.for_dataset({"hyperparameters": {"batch_size": [128]}}, audio_spec(256))
    assert space.hyperparameters["batch_size"].describe()["choices"] == [128]


def test_overrides_apply_on_top_of_the_audio_space():
    space = SearchSpace.for_dataset({"blocks": ["conv1d", "statistics_pooling", "lstm"]},
                                    audio_spec(256))
    assert space.blocks == ("conv1d", "statistics_pooling", "lstm")
    # Starting stacks with a block the config left out are dropped.
    assert space.starting_stacks == (("statistics_pooling",), ("conv1d", "statistics_pooling"))


def burst_clips(count: int, classes: int, seed: int):
    """[count, 40, 8] noise frames with a burst of energy 10 frames long at a random
    time, in the pair of bands that names the class: a keyword at a random offset."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=count)
    frames = rng.normal(0.0, 1.0, (count, 40, 8)).astype("float32")
    for index, label in enumerate(labels):
        start = rng.integers(0, 30)
        frames[index, start : start + 10, 2 * label : 2 * label + 2] += 2.0
    return frames, labels.astype("int64")


@pytest.mark.slow
@pytest.mark.parametrize("stack", SearchSpace.default_audio().starting_stacks, ids="-".join)
def test_every_audio_starting_stack_trains_above_chance_in_a_few_epochs(stack):
    import keras

    spec = audio_spec(train_size=256)
    spec.class_names = ["a", "b", "c", "d"]
    spec.features[0].shape, spec.features[0].mean, spec.features[0].std = [40, 8], [0.0] * 8, [1.0] * 8
    space = SearchSpace.for_dataset(None, spec)
    keras.utils.set_random_seed(0)
    arch = space.sample_stack(stack, np.random.default_rng(0))
    arch = arch.with_hyperparameters(learning_rate=3e-3, dropout=0.0)
    model = build_model(arch, spec, seed=0)
    train_x, train_y = burst_clips(256, 4, seed=1)
    eval_x, eval_y = burst_clips(128, 4, seed=2)
    model.fit({"x": train_x}, train_y, batch_size=arch.hyperparameters.batch_size, epochs=3, verbose=0)
    _, accuracy = model.evaluate({"x": eval_x}, eval_y, verbose=0)
    assert arch.hyperparameters.batch_size == 16
    assert accuracy > 0.4, (arch.blocks, accuracy)  # chance is 0.25
