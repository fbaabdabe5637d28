"""Errors a user can cause.

Every layer raises a subclass of `UserError` for bad input or configuration;
the CLI prints its one-line message and exits with status 2 (no traceback
unless `--debug`). Anything else is an internal failure (exit status 1).
"""


class UserError(Exception):
    """Bad input, configuration or usage; the message says what and where."""


class DataError(UserError):
    """The data given to ingestion or prediction is unusable."""


class SearchSpaceError(UserError):
    """An architecture or search space that cannot be built."""


class RunFailing(UserError):
    """A run cannot go on: its trials keep failing, or none completed. Retrying
    as it is repeats the failure; the message says what to fix."""


class Stopped(BaseException):
    """The run was asked to stop (SIGINT, SIGTERM): not a failure of anything
    in it. A BaseException, as KeyboardInterrupt is, so that no `except
    Exception` guarding one trial or one node takes it for that trial's failure."""

    def __init__(self, signal_name: str):
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
