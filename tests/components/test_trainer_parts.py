"""The Trainer's parts that need no data and no training: the watchdog that
stops a trial from outside, and the trial cache's key. (The Trainer itself, on
real data: tests/components/search/test_search_components.py.)"""

from __future__ import annotations

import time

import pytest

from tfx.types import standard_artifacts

from components.trainer import executor as trainer_executor
from components.trainer.watchdog import TrialWatchdog
from search_algo.architecture import Architecture
from search_algo.trial import Trial


@pytest.mark.slow
def test_the_watchdog_stops_a_trial_past_its_limit_from_outside_and_says_where(tmp_path):
    expired, stopped = [], []
    with TrialWatchdog(0.2, expired.append, stop=lambda: stopped.append(True), grace_seconds=0.1) as watchdog:
        watchdog.phase = "saving the model"
        time.sleep(1.0)
    assert stopped == [True] and watchdog.expired
    assert expired[0].startswith("exceeded the per-trial time limit of 0.2 s: stopped from outside after")
    assert expired[0].endswith("while saving the model")
    with TrialWatchdog(5, expired.append, stop=lambda: stopped.append(True)):
        pass
    time.sleep(0.1)
    assert stopped == [True], "a trial within its limit is left alone"


def test_the_trial_cache_knows_the_data_by_what_was_read_not_where_the_examples_are():
    """A resubmitted run ingests the same data into a new artifact; its trials
    must still be found (and different data must not be)."""
    trial = Trial("run1-r1-00", 1, 0, Architecture.from_dict({"blocks": [{"name": "dense"}]}), seed=0,
                  algorithm="beam", run_id="run1", study="s")
    properties = {"epochs": 2, "code_version": "test"}

    def examples(uri, fingerprint):
        item = standard_artifacts.Examples()
        item.uri = uri
        item.set_string_custom_property("data_fingerprint", fingerprint)
        return item

    first = trainer_executor.trial_cache_key(trial, properties, examples("gs://b/job-1/DataIngest/examples", "f1"))
    again = trainer_executor.trial_cache_key(trial, properties, examples("gs://b/job-2/DataIngest/examples", "f1"))
    other = trainer_executor.trial_cache_key(trial, properties, examples("gs://b/job-2/DataIngest/examples", "f2"))
    assert first == again != other


def _tiny_fit(callbacks, features, epochs=2):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    labels = np.ones((len(features), 1), dtype="float32")
    return model.fit(features, labels, batch_size=4, epochs=epochs, callbacks=callbacks, verbose=0)


def test_the_guard_stops_on_a_nan_loss_in_the_epoch_it_happens():
    import numpy as np

    from components.trainer.training import _Guard

    features = np.ones((64, 2), dtype="float32")
    features[40] = np.nan  # batch 10 of 16 in each epoch
    guard = _Guard(time_limit_seconds=None)
    history = _tiny_fit([guard], features, epochs=3)
    assert guard.reason == "the loss became nan in epoch 1"
    assert len(history.history["loss"]) == 1, "stopped in the first epoch"


def test_the_guard_stops_at_the_time_limit_mid_epoch():
    import numpy as np

    from components.trainer.training import _Guard

    guard = _Guard(time_limit_seconds=1e-9)
    history = _tiny_fit([guard], np.ones((64, 2), dtype="float32"), epochs=3)
    assert guard.reason == "exceeded the per-trial time limit of 1e-09 s in epoch 1"
    assert len(history.history["loss"]) == 1


def test_the_trainers_callbacks_let_keras_dispatch_steps_without_waiting_for_their_logs(tmp_path):
    import keras

    from components.trainer.training import _EpochTensorBoard, _Guard

    # A batch hook that is not async-safe makes Keras wait for every step's logs.
    tensorboard = _EpochTensorBoard(log_dir=str(tmp_path), write_graph=False, profile_batch=0, update_freq="epoch")
    assert keras.callbacks.CallbackList([_Guard(60.0), tensorboard])._async_train
    assert not keras.callbacks.CallbackList([keras.callbacks.TensorBoard(log_dir=str(tmp_path))])._async_train


def test_the_epoch_timer_counts_the_training_steps_and_leaves_out_the_validation_pass():
    import keras
    import numpy as np

    from components.trainer.training import _EpochTimer

    class SlowSteps(keras.callbacks.Callback):
        """16 steps of at least 20 ms, a validation pass of at least 500 ms, and each whole epoch's wall time."""

        def __init__(self):
            super().__init__()
            self.epoch_wall = []

        def on_epoch_begin(self, epoch, logs=None):
            self._begun = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.02)

        def on_test_begin(self, logs=None):
            time.sleep(0.5)

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_wall.append(time.monotonic() - self._begun)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    features, labels = np.ones((64, 2), dtype="float32"), np.ones((64, 1), dtype="float32")
    timer, slow = _EpochTimer(), SlowSteps()
    model.fit(features, labels, batch_size=4, epochs=2, validation_data=(features, labels),
              callbacks=[timer, slow], verbose=0)
    assert len(timer.epoch_seconds) == 2
    for steps, whole in zip(timer.epoch_seconds, slow.epoch_wall):
        # The steps counted (however loaded the machine), the validation pass's 500 ms not.
        assert 0.32 <= steps <= whole - 0.5, (timer.epoch_seconds, slow.epoch_wall)
