"""The model builder: adapters, heads, compile settings, one training step per family."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from search_algo.architecture import Architecture, BlockSpec, HeadSpec, Hyperparameters
from search_algo.errors import SearchSpaceError
from search_algo.model_builder import (
    block_layers,
    build_model,
    embedding_dim,
    find_layer,
    learning_rate_callbacks,
    parameter_count,
    parse_feature_spec,
)

from search_algo.testing import image_spec, random_batch, sequence_spec, tabular_spec


def blocks(*specs) -> tuple[BlockSpec, ...]:
    return tuple(BlockSpec(name, args) for name, args in specs)


FAMILIES = {
    "flat": (
        tabular_spec(categorical=False),
        blocks(("dense", {"units": 16, "batch_norm": True}), ("residual_dense", {"units": 16}),
               ("bottleneck_dense", {"units": 16, "rank": 4})),
    ),
    "tabular_categorical": (
        tabular_spec(categorical=True),
        blocks(("dense", {"units": 16, "dropout": 0.1})),
    ),
    "image": (
        image_spec(),
        blocks(("conv2d", {"filters": 8}), ("resnet_basic2d", {"filters": 8, "strides": 2}),
               ("max_pool2d", {}), ("dense", {"units": 16})),
    ),
    "sequence": (
        sequence_spec(),
        blocks(("conv1d", {"filters": 8}), ("tcn", {"filters": 8, "levels": 2}),
               ("gru", {"units": 16}),
               ("transformer_encoder", {"num_heads": 1, "key_dim": 8, "ff_dim": 32}),
               ("attention_pool", {})),
    ),
    "regression": (
        sequence_spec(task="regression"),
        blocks(("resnet1d", {"filters": 8}), ("lstm", {"units": 16})),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_training_step_gives_a_finite_loss(family):
    spec, stack = FAMILIES[family]
    architecture = Architecture(
        stack, HeadSpec(hidden_units=16),
        Hyperparameters(learning_rate=1e-2, optimizer="adamw", weight_decay=1e-4, dropout=0.1),
    )
    model = build_model(architecture, spec, seed=3)
    features, labels = random_batch(spec)
    before = [w.copy() for w in model.get_weights()]
    loss, metric = model.train_on_batch(features, labels)
    assert np.isfinite(loss) and np.isfinite(metric)
    after = model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "nothing trained"
    predictions = np.asarray(model.predict_on_batch(features))
    if spec.task == "classification":
        assert predictions.shape == (8, spec.num_classes)
        np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)
    else:
        assert predictions.shape == (8, 1)


@pytest.mark.slow
def test_compiled_metrics_are_accuracy_and_rmse():
    spec, stack = FAMILIES["image"]
    model = build_model(Architecture(stack), spec)
    features, labels = random_batch(spec)
    logs = model.evaluate(features, labels, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    spec, stack = FAMILIES["regression"]
    model = build_model(Architecture(stack), spec)
    features, labels = random_batch(spec)
    logs = model.evaluate(features, labels, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "rmse"}
    # The loss is the MSE in label standard deviations; rmse is in label units.
    predictions = np.asarray(model.predict_on_batch(features))[:, 0]
    mse = np.mean((predictions - labels) ** 2)
    assert logs["rmse"] == pytest.approx(np.sqrt(mse), rel=1e-4)
    assert logs["loss"] == pytest.approx(mse / spec.label_std**2, rel=1e-4)


def test_regression_output_is_in_label_units():
    spec = sequence_spec(task="regression")
    model = build_model(Architecture(blocks(("conv1d", {"filters": 8}))), spec)
    features, _ = random_batch(spec)
    standardized = keras.Model(model.input, model.get_layer("head_output").output)
    np.testing.assert_allclose(
        model.predict_on_batch(features),
        standardized.predict_on_batch(features) * spec.label_std + spec.label_mean,
        rtol=1e-5,
    )


def test_same_seed_same_weights_other_seed_other_weights():
    spec, stack = FAMILIES["sequence"]
    first = build_model(Architecture(stack), spec, seed=7).get_weights()
    second = build_model(Architecture(stack), spec, seed=7).get_weights()
    third = build_model(Architecture(stack), spec, seed=8).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert any(not np.array_equal(a, c) for a, c in zip(first, third))


def test_input_adapter_standardises_and_embeds():
    spec = tabular_spec(categorical=True)
    model = build_model(Architecture(()), spec, compile=False)
    age = keras.Model(model.input, model.get_layer("adapter_age_norm").output)
    features = {"age": np.array([30.0, 50.0], "float32"), "income": np.array([5.0, 9.0], "float32"),
                "colour": np.array(["red", "mauve"], dtype=object)}
    np.testing.assert_allclose(age.predict_on_batch(features)[:, 0], [-1.0, 1.0], rtol=1e-6)
    # A constant feature (std 0) is centred, not divided by zero.
    income = keras.Model(model.input, model.get_layer("adapter_income_norm").output)
    np.testing.assert_allclose(income.predict_on_batch(features)[:, 0], [0.0, 4.0], rtol=1e-6)
    lookup = keras.Model(model.input, model.get_layer("adapter_colour_lookup").output)
    np.testing.assert_array_equal(lookup.predict_on_batch(features), [1, 0])  # 0 = OOV
    embed = model.get_layer("adapter_colour_embed")
    assert embed.input_dim == 4 and embed.output_dim == embedding_dim(4)
    concat = model.get_layer("adapter_concat")
    assert concat.output.shape[-1] == 1 + 1 + embedding_dim(4)


def test_image_and_sequence_inputs_are_normalised_per_channel():
    spec = image_spec(channels=3)
    model = build_model(Architecture(()), spec, compile=False)
    adapter = keras.Model(model.input, model.get_layer("adapter_image_norm").output)
    pixels = np.full((1, 8, 8, 3), 0.75, "float32")
    np.testing.assert_allclose(adapter.predict_on_batch({"image": pixels}), 1.0, rtol=1e-6)


def test_model_takes_parsed_tf_examples():
    spec = tabular_spec(task="regression", categorical=True)
    model = build_model(Architecture(blocks(("dense", {"units": 16}))), spec)
    feature_spec = parse_feature_spec(spec, include_label=True)
    assert feature_spec["age"] == tf.io.FixedLenFeature([], tf.float32)
    assert feature_spec["colour"] == tf.io.FixedLenFeature([], tf.string)
    assert feature_spec["target"] == tf.io.FixedLenFeature([], tf.float32)
    assert "target" not in parse_feature_spec(spec)
    example = tf.train.Example(features=tf.train.Features(feature={
        "age": tf.train.Feature(float_list=tf.train.FloatList(value=[33.0])),
        "income": tf.train.Feature(float_list=tf.train.FloatList(value=[4.0])),
        "colour": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"blue"])),
        "target": tf.train.Feature(float_list=tf.train.FloatList(value=[120.0])),
    }))
    parsed = tf.io.parse_example(tf.constant([example.SerializeToString()] * 2), feature_spec)
    label = parsed.pop("target")
    assert model(parsed).shape == (2, 1)
    assert parse_feature_spec(sequence_spec())["x"] == tf.io.FixedLenFeature([12, 1], tf.float32)
    assert parse_feature_spec(sequence_spec(), include_label=True)["label"].dtype == tf.int64
    assert label.shape == (2,)


def test_layer_names_and_parameter_count():
    spec, stack = FAMILIES["sequence"]
    model = build_model(Architecture(stack), spec)
    assert list(block_layers(model)) == [
        "b00_conv1d", "b01_tcn", "b02_gru", "b03_transformer_encoder", "b04_attention_pool"
    ]
    assert find_layer(model, "b01_tcn/l1_conv_b").kernel.shape == (3, 8, 8)
    assert "b03_transformer_encoder/attention" in {
        "/".join(w.path.split("/")[:2]) for w in model.weights
    }
    with pytest.raises(KeyError):
        find_layer(model, "b09_nothing/conv")
    assert parameter_count(model) == model.count_params()
    spec, stack = FAMILIES["flat"]  # batch norm: moving statistics are not trainable
    model = build_model(Architecture(stack), spec)
    assert parameter_count(model, trainable_only=True) == parameter_count(model) - 2 * 16


@pytest.mark.slow
def test_binary_classification_uses_a_two_way_softmax():
    spec = image_spec(classes=("cat", "dog"))
    model = build_model(Architecture(blocks(("conv2d", {"filters": 8}))), spec)
    assert model.get_layer("head_logits").units == 2
    assert model.output.shape == (None, 2)


def test_hyperparameters_reach_the_optimizer():
    spec, stack = FAMILIES["flat"]
    for name, cls in [("adam", keras.optimizers.Adam), ("adamw", keras.optimizers.AdamW),
                      ("sgd", keras.optimizers.SGD), ("rmsprop", keras.optimizers.RMSprop)]:
        hp = Hyperparameters(learning_rate=0.02, optimizer=name, weight_decay=1e-3, dropout=0.2)
        model = build_model(Architecture(stack, hyperparameters=hp), spec)
        assert type(model.optimizer) is cls
        assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
        assert model.optimizer.weight_decay == pytest.approx(1e-3)
        assert model.get_layer("head_dropout").rate == pytest.approx(0.2)


def test_invalid_architecture_is_refused_before_building():
    with pytest.raises(SearchSpaceError, match="block 1 'lstm'"):
        build_model(Architecture(blocks(("dense", {}), ("lstm", {}))), tabular_spec())


def test_unusable_dataset_spec_is_refused():
    spec = image_spec(classes=("only",))
    with pytest.raises(SearchSpaceError, match="at least 2 class names"):
        build_model(Architecture(()), spec)


@pytest.mark.slow
def test_saved_model_file_loads_back_with_the_same_predictions(tmp_path):
    # Custom layers and the regression loss are registered as serializable.
    spec = sequence_spec(task="regression")
    arch = Architecture(blocks(
        ("transformer_encoder", {"num_heads": 1, "key_dim": 8, "ff_dim": 32, "model_dim": 16}),
        ("attention_pool", {}),
    ))
    model = build_model(arch, spec)
    features, labels = random_batch(spec)
    model.train_on_batch(features, labels)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(
        model.predict_on_batch(features), loaded.predict_on_batch(features)
    )
    assert loaded.evaluate(features, labels, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(features, labels, verbose=0, return_dict=True)
    )


@pytest.mark.slow
def test_cosine_schedule_decays_the_learning_rate_over_the_epochs():
    spec, stack = FAMILIES["flat"]
    constant = Hyperparameters(learning_rate=0.01)
    assert learning_rate_callbacks(constant, 10) == []
    cosine = Hyperparameters(learning_rate=0.01, lr_schedule="cosine")
    model = build_model(Architecture(stack, hyperparameters=cosine), spec)
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: rates.append(float(model.optimizer.learning_rate)))
    x, y = random_batch(spec, 16)
    model.fit(x, y, epochs=4, batch_size=8, verbose=0,
              callbacks=[*learning_rate_callbacks(cosine, 4), record])
    assert rates[0] == pytest.approx(0.01)
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.002
