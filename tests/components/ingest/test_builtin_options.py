"""Options of a built-in data set (`NAME?option=value&...`): mnist1d's fresh
test draw (`test_seed`, `test_size`), its checks and its fingerprint.

Generating mnist1d takes seconds (the standard set once per process, its
scale once more), so every test that generates is `slow`; the checks of the
options and the fingerprint generate nothing."""

from __future__ import annotations

import numpy as np
import pytest

from components.ingest import builtin, sources
from components.ingest.fingerprint import input_fingerprint
from components.ingest.sources import SourceConfig
from search_algo.errors import DataError

# A small fresh draw keeps the tests quick once the standard set is cached.
SMALL = 50


def rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.ascontiguousarray(x, dtype=np.float32).reshape(x.shape[0], -1)}


@pytest.mark.parametrize("source,message", [
    ("mnist1d?test_seed=42", "option test_seed must be an integer from 0 to 4294967295 other than 42 "
                             "(the standard set's seed), got '42'"),
    ("mnist1d?test_seed=-1", "option test_seed must be an integer from 0 to 4294967295"),
    ("mnist1d?test_seed=4294967296", "option test_seed must be an integer from 0 to 4294967295"),
    ("mnist1d?test_seed=7.5", "option test_seed must be an integer"),
    ("mnist1d?test_seed=7&test_size=0", "option test_size must be an integer from 1 to 50000, got '0'"),
    ("mnist1d?test_seed=7&test_size=50001", "option test_size must be an integer from 1 to 50000, got '50001'"),
    ("mnist1d?test_size=4000", "option test_size needs option test_seed"),
    ("mnist1d?test_seed=7&test_seed=8", "option test_seed is given twice"),
    ("mnist1d?seed=7", "unknown option 'seed'; its options are test_seed, test_size"),
    ("mnist1d?test_seed", "expected mnist1d?option=value&option=value, got 'test_seed'"),
    ("mnist1d?", "expected mnist1d?option=value&option=value, got ''"),
    ("wine?test_seed=7", "unknown option 'test_seed'; it takes no options"),
])
def test_a_bad_option_is_one_line_naming_the_option_and_the_source(source, message):
    with pytest.raises(DataError) as raised:
        builtin.parse_source(source)
    text = str(raised.value)
    assert text.startswith(f"built-in data set {source!r}: ") and message in text and "\n" not in text


def test_unknown_name_with_options_names_the_data_sets():
    with pytest.raises(DataError, match="unknown built-in data set 'cifar10'; choose one of"):
        builtin.parse_source("cifar10?test_seed=7")


def test_options_parse_with_defaults_and_canonical_names():
    assert builtin.parse_source("mnist1d") == (builtin.DATASETS["mnist1d"], {})
    assert builtin.parse_source("mnist1d?test_seed=7")[1] == {"test_seed": 7, "test_size": 1000}
    assert builtin.parse_source("mnist1d?test_size=4000&test_seed=7")[1] == {"test_seed": 7, "test_size": 4000}
    assert builtin.canonical_source("mnist1d") == "mnist1d"
    assert builtin.canonical_source("mnist1d?test_seed=7") == "mnist1d?test_seed=7&test_size=1000"
    assert builtin.canonical_source("mnist1d?test_size=1000&test_seed=007") == "mnist1d?test_seed=7&test_size=1000"


def test_fingerprint_differs_by_test_seed_and_size_not_by_spelling():
    def fingerprint(dataset: str) -> str:
        return input_fingerprint(SourceConfig(dataset=dataset))

    standard, seven = fingerprint("mnist1d"), fingerprint("mnist1d?test_seed=7")
    assert len({standard, seven, fingerprint("mnist1d?test_seed=8"),
                fingerprint("mnist1d?test_seed=7&test_size=4000")}) == 4
    assert fingerprint("mnist1d?test_size=1000&test_seed=7") == seven
    with pytest.raises(DataError, match="option test_seed"):
        fingerprint("mnist1d?test_seed=42")


@pytest.mark.slow
def test_train_and_eval_splits_are_the_standard_ones():
    _, standard = builtin.split_arrays(SourceConfig(dataset="mnist1d", seed=3))
    plan, fresh = builtin.split_arrays(SourceConfig(dataset=f"mnist1d?test_seed=7&test_size={SMALL}", seed=3))
    for split in ("train", "eval"):
        assert np.array_equal(fresh[split][0], standard[split][0]) and np.array_equal(fresh[split][1],
                                                                                      standard[split][1])
    assert len(fresh["test"][1]) == SMALL == plan.split_sizes()["test"]
    assert plan.name == f"mnist1d?test_seed=7&test_size={SMALL}"


@pytest.mark.slow
def test_the_same_test_seed_draws_the_same_examples_another_seed_others():
    mnist1d = builtin.DATASETS["mnist1d"]
    seven, again, eight = (mnist1d.loader(test_seed=s, test_size=SMALL) for s in (7, 7, 8))
    assert np.array_equal(seven["x_test"], again["x_test"]) and np.array_equal(seven["y_test"], again["y_test"])
    assert not rows(seven["x_test"]) & rows(eight["x_test"])


@pytest.mark.slow
def test_fresh_test_examples_are_new_balanced_and_scaled_as_the_standard_set():
    standard = builtin.DATASETS["mnist1d"].loader()
    fresh = builtin.DATASETS["mnist1d"].loader(test_seed=7)
    assert fresh["x_test"].shape == standard["x_test"].shape == (1000, 40, 1)
    assert fresh["x_test"].dtype == np.float32 and fresh["y_test"].dtype == np.int64
    assert not rows(fresh["x_test"]) & (rows(standard["x_test"]) | rows(standard["x"]))
    # ceil(N / 10) of each digit drawn, the first N of the shuffled draw kept: 1000 is 100 each.
    assert np.bincount(fresh["y_test"]).tolist() == [100] * 10
    # Scaled by the standard set's mean and deviation (about 0 and 1 for any draw of this size).
    assert abs(float(fresh["x_test"].mean())) < 0.05 and abs(float(fresh["x_test"].std()) - 1) < 0.05
    for key in ("x", "y"):
        assert np.array_equal(fresh[key], standard[key])


@pytest.mark.slow
def test_the_repeated_draw_reproduces_make_dataset_and_keeps_global_random_state():
    import mnist1d.data

    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    builtin.DATASETS["mnist1d"].loader(test_seed=9, test_size=3)
    assert np.random.random() == expected
    # The standard set's seed is the package's, and the scale check found the repeated draw exact.
    assert mnist1d.data.get_dataset_args().seed == builtin.MNIST1D_STANDARD_SEED
    mean, std = builtin._mnist1d_standard_scale()
    assert np.isfinite(mean) and std > 0
    # test_size=3 draws one example of each digit, keeps 3.
    assert len(builtin.DATASETS["mnist1d"].loader(test_seed=9, test_size=3)["y_test"]) == 3
