"""Weight sharing from a trained parent to a child candidate."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from search_algo.architecture import Architecture, BlockSpec, Hyperparameters
from search_algo.model_builder import build_model, intermediate_model
from search_algo.testing import random_batch, sequence_spec, tabular_spec
from search_algo.weight_transfer import transfer_weights

PARENT = Architecture(
    (
        BlockSpec("conv1d", {"filters": 8, "kernel_size": 5}),
        BlockSpec("resnet1d", {"filters": 8, "kernel_size": 3}),  # batch norm inside
        BlockSpec("lstm", {"units": 16}),
    ),
    hyperparameters=Hyperparameters(learning_rate=0.05),
)


def trained(architecture, spec, seed=0, steps=3):
    model = build_model(architecture, spec, seed=seed)
    features, labels = random_batch(spec, seed=seed)
    for _ in range(steps):  # moves the weights and the batch-norm statistics off init
        model.train_on_batch(features, labels)
    return model


def output_of(model, layer_name, features):
    return intermediate_model(model, layer_name).predict_on_batch(features)


@pytest.fixture(scope="module")
def parent():
    spec = sequence_spec()
    keras.utils.set_random_seed(0)
    return trained(PARENT, spec), spec


@pytest.mark.slow
def test_shared_prefix_computes_exactly_what_the_parent_computed(parent):
    parent_model, spec = parent
    child_arch = PARENT.replace_block(2, BlockSpec("gru", {"units": 16})).insert_block(
        3, BlockSpec("attention_pool")
    )
    child_model = build_model(child_arch, spec, seed=99)
    features, _ = random_batch(spec, seed=5)
    assert not np.allclose(
        output_of(parent_model, "b01_resnet1d", features),
        output_of(child_model, "b01_resnet1d", features),
    )

    report = transfer_weights(parent_model, PARENT, child_model, child_arch)

    assert report.transferred_blocks == ["b00_conv1d", "b01_resnet1d"]
    assert report.fresh == ["b02_gru", "b03_attention_pool"]
    assert report.head_layers == []
    np.testing.assert_array_equal(
        output_of(parent_model, "b01_resnet1d", features),
        output_of(child_model, "b01_resnet1d", features),
    )
    resnet = child_model.get_layer("b01_resnet1d")
    moving_mean = resnet.get_layer("bn_a").moving_mean.numpy()
    np.testing.assert_array_equal(
        moving_mean, parent_model.get_layer("b01_resnet1d").get_layer("bn_a").moving_mean.numpy()
    )
    assert np.any(moving_mean != 0)  # the trained statistics, not fresh zeros
    assert report.weights_copied == (
        child_model.get_layer("b00_conv1d").count_params() + resnet.count_params()
    )


def test_blocks_after_an_inserted_block_still_transfer(parent):
    parent_model, spec = parent
    # A shape-preserving block inserted in the middle: later blocks keep their input shape.
    child_arch = PARENT.insert_block(1, BlockSpec("conv1d", {"filters": 8, "kernel_size": 3}))
    child_model = build_model(child_arch, spec, seed=1)
    report = transfer_weights(parent_model, PARENT, child_model, child_arch)
    assert [(t.parent_layer, t.layer) for t in report.transferred] == [
        ("b00_conv1d", "b00_conv1d"),
        ("b01_resnet1d", "b02_resnet1d"),
        ("b02_lstm", "b03_lstm"),
    ]
    assert report.fresh == ["b01_conv1d"]
    for parent_w, child_w in zip(
        parent_model.get_layer("b02_lstm").get_weights(),
        child_model.get_layer("b03_lstm").get_weights(),
    ):
        np.testing.assert_array_equal(parent_w, child_w)


def test_removed_block_and_changed_arguments(parent):
    parent_model, spec = parent
    child_arch = PARENT.remove_block(0).with_block_args(1, units=32)
    child_model = build_model(child_arch, spec, seed=1)
    report = transfer_weights(parent_model, PARENT, child_model, child_arch)
    # resnet1d now reads the 1-channel input instead of conv1d's 8 channels: a
    # different input shape, so nothing matches.
    assert report.transferred == []
    assert report.fresh == ["b00_resnet1d", "b01_lstm"]


def test_hyperparameter_only_child_inherits_everything(parent):
    parent_model, spec = parent
    child_arch = PARENT.with_hyperparameters(learning_rate=1e-4, dropout=0.2)
    child_model = build_model(child_arch, spec, seed=42)
    report = transfer_weights(parent_model, PARENT, child_model, child_arch)
    assert report.fresh == []
    assert report.head_layers == ["head_logits"]
    features, _ = random_batch(spec, seed=6)
    np.testing.assert_allclose(
        parent_model.predict_on_batch(features), child_model.predict_on_batch(features),
        rtol=1e-6,
    )
    recorded = report.to_dict()
    assert recorded["head_layers"] == ["head_logits"]
    assert (recorded["parent_arch_id"], recorded["child_arch_id"]) == (
        PARENT.arch_id, child_arch.arch_id
    )
    assert len(recorded["transferred"]) == 3


@pytest.mark.slow
def test_input_adapter_embeddings_transfer():
    spec = tabular_spec(categorical=True)
    parent_arch = Architecture((BlockSpec("dense", {"units": 16}),))
    parent_model = trained(parent_arch, spec)
    child_arch = parent_arch.with_block_args(0, units=32)
    child_model = build_model(child_arch, spec, seed=8)
    report = transfer_weights(parent_model, parent_arch, child_model, child_arch)
    assert report.adapter_layers == ["adapter_colour_embed"]
    assert report.transferred == [] and report.fresh == ["b00_dense"]
    np.testing.assert_array_equal(
        parent_model.get_layer("adapter_colour_embed").get_weights()[0],
        child_model.get_layer("adapter_colour_embed").get_weights()[0],
    )


def test_default_spelled_arguments_match_explicit_ones(parent):
    parent_model, spec = parent
    # kernel_size=5 is conv1d's default: writing it or not is the same block.
    child_arch = PARENT.replace_block(0, BlockSpec("conv1d", {"filters": 8}))
    child_model = build_model(child_arch, spec, seed=3)
    report = transfer_weights(parent_model, PARENT, child_model, child_arch)
    assert "b00_conv1d" in report.transferred_blocks


AUDIO_PARENT = Architecture(
    (
        BlockSpec("conv1d", {"filters": 8, "kernel_size": 3}),
        BlockSpec("image_view"),
        BlockSpec("conv2d", {"filters": 8, "kernel_size": 3}),
        BlockSpec("statistics_pooling"),
    ),
    hyperparameters=Hyperparameters(learning_rate=0.05),
)


@pytest.mark.slow
def test_statistics_pooling_and_image_view_stacks_transfer_and_mutate():
    from search_algo.mutation import mutate
    from search_algo.search_space import SearchSpace

    spec = sequence_spec(steps=12, channels=3)
    keras.utils.set_random_seed(0)
    parent_model = trained(AUDIO_PARENT, spec)
    # The [12, 8, 8] map comes back as a sequence [12, 8 * 8] (rows become steps).
    assert parent_model.get_layer("b03_statistics_pooling").output.shape == (None, 2 * 8 * 8)
    child_arch = AUDIO_PARENT.insert_block(4, BlockSpec("dense", {"units": 16}))
    child_model = build_model(child_arch, spec, seed=7)
    report = transfer_weights(parent_model, AUDIO_PARENT, child_model, child_arch)
    assert report.transferred_blocks == [
        "b00_conv1d", "b01_image_view", "b02_conv2d", "b03_statistics_pooling"]
    features, _ = random_batch(spec, seed=3)
    np.testing.assert_array_equal(
        output_of(parent_model, "b03_statistics_pooling", features),
        output_of(child_model, "b03_statistics_pooling", features),
    )
    space = SearchSpace.default_audio()
    rng = np.random.default_rng(0)
    children = {mutate(AUDIO_PARENT, space, rng).arch_id for _ in range(10)}
    assert AUDIO_PARENT.arch_id not in children and len(children) > 5
