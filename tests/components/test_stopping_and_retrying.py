"""Stopping a run is not a trial dying, and failed trials can be trained again:
the signal handling, the trial cache's counting and setting aside, and the
study record's newest outcome of a retried trial."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from components.interruption import stop_on_signals
from components.study_record import StudyRecord
from components.trainer.trial_cache import TrialCache, failed_after_attempts, mark_interrupted
from search_algo.architecture import Architecture
from search_algo.errors import Stopped
from search_algo.trial import Trial


def _trial(status: str = "failed", error: str | None = "boom", started: str = "2026-12-01T00:00:00") -> Trial:
    arch = Architecture.from_dict({"blocks": [{"name": "dense"}]})
    return Trial("run1-r1-00", 1, 0, arch, seed=1, algorithm="beam", run_id="run1", study="s", status=status,
                 error=error, started_at=started, metrics={"accuracy": 0.5} if status == "completed" else {})


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_raises_stopped_once_and_the_handlers_come_back(number):
    before = signal.getsignal(number)
    seen = []
    with pytest.raises(Stopped, match=f"stopped by {signal.Signals(number).name}"):
        with stop_on_signals(seen.append):
            os.kill(os.getpid(), number)
            # Python runs the handler between bytecodes of the main thread.
            for _ in range(1000):
                pass
    assert seen == [signal.Signals(number).name]
    assert signal.getsignal(number) == before


def test_a_second_signal_during_the_stop_is_ignored():
    seen = []
    with pytest.raises(Stopped):
        with stop_on_signals(seen.append):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
            finally:
                # The clean-up of the first stop is not cut short by a second one.
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):
                    pass
    assert seen == ["SIGTERM"]


def test_a_stop_signal_another_thread_takes_is_noticed_at_once_and_wakes_the_main_thread():
    # The kernel hands a process's signal to any of its threads (TensorFlow has many); one taken
    # by another thread does not wake a main thread waiting in a system call.
    seen = []
    started = time.monotonic()

    def signal_this_thread():
        time.sleep(0.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    with pytest.raises(Stopped, match="stopped by SIGTERM"):
        with stop_on_signals(seen.append):
            threading.Thread(target=signal_this_thread, daemon=True).start()
            time.sleep(30)
    assert seen == ["SIGTERM"] and time.monotonic() - started < 10


def test_attempts_the_runs_stop_interrupted_are_not_counted(tmp_path):
    cache = TrialCache(str(tmp_path / "cache"))
    trial = _trial(status="proposed", error=None)
    for signal_name in ("SIGTERM", "SIGINT", "SIGINT"):
        mark_interrupted(cache.begin_attempt("k", trial, None), signal_name)
    assert [a.interrupted for a in cache.attempts("k")] == [True, True, True]
    assert cache.counted_attempts("k") == [], "three stops are not three deaths"
    died = cache.begin_attempt("k", trial, None)
    assert died.number == 4 and [a.number for a in cache.counted_attempts("k")] == [4]
    assert "(1 attempts)" in failed_after_attempts(trial, cache.counted_attempts("k")).error


def test_retrying_sets_a_failed_result_aside_once_per_request(tmp_path):
    cache = TrialCache(str(tmp_path / "cache"))
    cache.begin_attempt("k", _trial(), None)
    cache.store("k", _trial(), str(tmp_path / "trial"))
    assert cache.lookup("k").status == "failed"
    assert not cache.retried("k", "req1")
    assert cache.retry("k", "req1")
    assert cache.lookup("k") is None and cache.attempts("k") == [], "the trial starts afresh"
    assert cache.retried("k", "req1")
    # Failed again within the same request (a node started again): its new result stands.
    cache.store("k", _trial(error="boom again"), str(tmp_path / "trial"))
    assert not cache.retry("k", "req1") and cache.lookup("k").error == "boom again"
    # A later request retries it once more.
    assert cache.retry("k", "req2") and cache.lookup("k") is None


def test_a_retried_trials_newest_outcome_is_what_the_record_reads(tmp_path):
    record = StudyRecord(str(tmp_path / "record"))
    assert record.add_trial(_trial())
    completed = _trial(status="completed", error=None, started="2026-12-02T00:00:00")
    assert not record.add_trial(completed), "without a retry the first record stands"
    assert record.add_trial(completed, retry="req1")
    [trial] = record.trials()
    assert trial.status == "completed" and trial.error is None
    # A live view keeps the last outcome it reads of each trial.
    assert [t.status for t in record.new_trials(set())] == ["failed", "completed"]
