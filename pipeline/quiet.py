"""Keeps the libraries' deprecation notices off stderr unless `--debug`.

TensorFlow, TFMA, TFX, Beam and the Google client libraries announce
deprecations on almost every run - none is for a user to act on. They come
two ways:

- Python warnings (DeprecationWarning and its subclasses, FutureWarning):
  ignored here, and through PYTHONWARNINGS in the processes this one starts.
  Beam puts its own filter in front on import (`apache_beam/utils/annotations.py`:
  `simplefilter('once', BeamDeprecationWarning)`), so this is called again once
  TFX and Beam are imported: the filter put in front last wins.
- TensorFlow's deprecation notices ("... is deprecated and will be removed ...",
  `tensorflow/python/util/deprecation.py`) are log records of the `tensorflow`
  logger at WARNING, not warnings: a filter on that logger drops them and
  keeps its other warnings.
"""

from __future__ import annotations

import logging
import os
import warnings

CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
# For processes started from this one (multiprocessing's spawned workers, subprocesses): read at their start-up,
# before they import anything.
PYTHONWARNINGS = ",".join(f"ignore::{category.__name__}" for category in CATEGORIES)
TENSORFLOW_LOGGER = "tensorflow"


class DeprecationNotices(logging.Filter):
    """Drops TensorFlow's deprecation notices, keeps every other record."""

    # The messages of tensorflow/python/util/deprecation.py (TF 2.16).
    MARKERS = ("is deprecated and will be removed", "is deprecated. Please use", "Instructions for updating:",
               "The old module will be deleted")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is not ours to drop
            return True
        return not any(marker in message for marker in self.MARKERS)


def silence_deprecations(debug: bool) -> None:
    """Unless `debug`: ignore deprecation warnings here and in child processes,
    and drop TensorFlow's deprecation log lines. Idempotent; call it again
    after importing TFX / Beam."""
    if debug:
        return
    os.environ.setdefault("PYTHONWARNINGS", PYTHONWARNINGS)
    for category in CATEGORIES:
        # An identical filter is moved to the front, not added twice.
        warnings.filterwarnings("ignore", category=category)
    tensorflow = logging.getLogger(TENSORFLOW_LOGGER)
    if not any(isinstance(f, DeprecationNotices) for f in tensorflow.filters):
        tensorflow.addFilter(DeprecationNotices())


def quiet_libraries(debug: bool) -> None:
    """TensorFlow, Beam and TFX log at INFO by default; users see our lines only.
    Idempotent: called again once TFX and Beam are imported (see `silence_deprecations`)."""
    # Deprecation warnings, here and in the worker processes (PYTHONWARNINGS,
    # they warn while importing TFX), and TensorFlow's deprecation log lines.
    silence_deprecations(debug)
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.filterwarnings("ignore", category=UserWarning, module="apache_beam")
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.FATAL)
        for name in ("tensorflow", "tfx", "ml_metadata"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Beam warns about optional speed-ups (python-snappy) on every run.
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        # TFX reports a failed node through absl at ERROR before re-raising
        # the exception, which the CLI turns into one clear line.
        logging.getLogger("absl").setLevel(logging.CRITICAL)
