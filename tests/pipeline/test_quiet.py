"""Libraries' deprecation notices stay off stderr unless --debug (pipeline/quiet.py),
checked without running a pipeline."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from pipeline import cli, quiet

REPO = Path(__file__).resolve().parents[2]


class BeamLikeDeprecation(DeprecationWarning):
    """Stands in for apache_beam's BeamDeprecationWarning."""


TF_NOTICE = ("From /x/tensorflow_model_analysis/y.py:1: remove_squeezable_dimensions (from tensorflow.python.ops) "
             "is deprecated and will be removed in a future version.\nInstructions for updating:\nUse z instead.")


LOGGERS = (quiet.TENSORFLOW_LOGGER, "absl", "apache_beam", "tfx", "ml_metadata", *cli.OWN_LOGGERS)


@pytest.fixture
def clean(monkeypatch):
    """Every warning shown (pytest's filters ignore deprecations), PYTHONWARNINGS
    unset, no deprecation filter on the tensorflow logger; the filters, the
    environment and the loggers are restored after."""
    from absl import logging as absl_logging

    for name in ("PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel"):
        present = name in os.environ
        monkeypatch.setenv(name, os.environ.get(name, ""))  # so that it is restored after the test, as it was
        if name == "PYTHONWARNINGS" or not present:
            monkeypatch.delenv(name)
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).filters)) for name in LOGGERS}
    # An earlier test's quiet run may have left its filter on the tensorflow logger.
    tensorflow = logging.getLogger(quiet.TENSORFLOW_LOGGER)
    tensorflow.filters[:] = [f for f in tensorflow.filters if not isinstance(f, quiet.DeprecationNotices)]
    verbosity = absl_logging.get_verbosity()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        yield shown
    for name, (level, filters) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).filters[:] = filters
    absl_logging.set_verbosity(verbosity)


def warn_every_kind() -> None:
    warnings.warn("an old API", DeprecationWarning)
    warnings.warn("pending", PendingDeprecationWarning)
    warnings.warn("Python 3.10 will not be supported", FutureWarning)
    warnings.warn("an old Beam API", BeamLikeDeprecation)
    warnings.warn("something the user should see", UserWarning)


def tensorflow_lines() -> list[str]:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    tensorflow = logging.getLogger(quiet.TENSORFLOW_LOGGER)
    tensorflow.addHandler(handler)
    try:
        tensorflow.warning(TF_NOTICE)
        tensorflow.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing")
    finally:
        tensorflow.removeHandler(handler)
    return lines


def test_deprecations_are_silenced_here_and_for_child_processes(clean):
    quiet.silence_deprecations(debug=False)
    warn_every_kind()
    assert [str(w.message) for w in clean] == ["something the user should see"]
    assert set(os.environ["PYTHONWARNINGS"].split(",")) == {
        "ignore::DeprecationWarning", "ignore::PendingDeprecationWarning", "ignore::FutureWarning"}
    assert tensorflow_lines() == ["5 out of the last 5 calls to <function f> triggered tf.function retracing"]


def test_a_library_filter_put_in_front_is_overtaken_by_calling_again(clean):
    """What importing Beam does: `simplefilter('once', BeamDeprecationWarning)`."""
    quiet.silence_deprecations(debug=False)
    warnings.simplefilter("once", BeamLikeDeprecation)
    quiet.silence_deprecations(debug=False)
    warnings.warn("an old Beam API", BeamLikeDeprecation)
    assert clean == []
    filters = logging.getLogger(quiet.TENSORFLOW_LOGGER).filters
    assert sum(isinstance(f, quiet.DeprecationNotices) for f in filters) == 1, "added once"


def test_debug_keeps_every_warning(clean):
    quiet.silence_deprecations(debug=True)
    warn_every_kind()
    assert len(clean) == 5
    assert "PYTHONWARNINGS" not in os.environ
    assert len(tensorflow_lines()) == 2


@pytest.mark.parametrize("debug", [False, True])
def test_the_cli_and_the_runner_quiet_them_unless_debug(clean, debug):
    cli._configure_logging(debug)
    warn_every_kind()
    assert len(clean) == (5 if debug else 1)
    del clean[:]
    quiet.quiet_libraries(debug)
    warn_every_kind()
    assert len(clean) == (5 if debug else 1)


WORKER = """
import os, sys, warnings
from pipeline import parallel_runner

parallel_runner._worker_init(os.getppid(), sys.argv[1] == "debug", {}, 1)
from apache_beam.utils.annotations import BeamDeprecationWarning
from tensorflow.python.util import deprecation

warnings.warn("an old Beam API", BeamDeprecationWarning)
warnings.warn("not supported much longer", FutureWarning)
deprecation.deprecated(None, "use another function")(lambda: 1)()
print("initialised", file=sys.stderr)
"""


@pytest.mark.integration  # a fresh process importing TFX and Beam, as a worker does
@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
def test_a_worker_process_shows_deprecations_only_with_debug(debug):
    """The worker's start-up (pipeline/parallel_runner.py `_worker_init`) after the
    real imports, without the PYTHONWARNINGS a quiet runner would also pass it."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run([sys.executable, "-c", WORKER, "debug" if debug else "quiet"], capture_output=True,
                          text=True, timeout=600, env={**environment, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "initialised" in done.stderr
    notices = ("an old Beam API", "not supported much longer", "use another function")
    assert [n for n in notices if n in done.stderr] == (list(notices) if debug else []), done.stderr[-3000:]
