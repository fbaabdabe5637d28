"""`model-search`: the one command-line entry point.

Exit status: 0 success, 2 bad input or usage, 1 internal failure; 130 / 143
when stopped by SIGINT (Ctrl-C) / SIGTERM (128 + the signal, as a shell reports it).
Machine-readable output goes to stdout (`--json`); logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import time
import traceback

from pipeline import quiet
from pipeline.commands import COMMAND_MODULES
from search_algo.errors import Stopped, UserError

PROG = "model-search"
OWN_LOGGERS = ("pipeline", "components", "search_algo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Search neural architectures built from predefined blocks, "
        "ensemble and distil the best, and push the winner - as a TFX pipeline.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and verbose logs"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"pipeline.commands.{name}").register(subparsers)
    return parser


def _configure_logging(debug: bool) -> None:
    if not debug:
        # Must be set before TensorFlow loads: its C++ start-up noise is not for users.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # ML Metadata's C++ logs through glog, read when it loads: a failed
        # connection would add its own lines to the CLI's one-line error.
        os.environ.setdefault("GLOG_minloglevel", "3")
    # Libraries' deprecation notices (the Google client libraries warn about
    # Python 3.10 on import): not on stderr unless --debug.
    quiet.silence_deprecations(debug)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if debug else "%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        # Our own progress lines at INFO; libraries only from WARNING up.
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    # Where a run's time budget counts from (`run --time-budget`): the command's start.
    started_at = time.time()
    parser = build_parser()
    # `--debug` is accepted before or after the sub-command.
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv = [a for a in argv if a != "--debug"]
    args = parser.parse_args(argv)
    args.debug = debug
    args.started_at = started_at
    _configure_logging(debug)
    try:
        return int(args.handler(args) or 0)
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"{PROG}: {stop}; nothing that was running counts as failed: run the same command again to resume",
              file=sys.stderr)
        return 128 + int(getattr(signal, stop.signal_name, signal.SIGINT))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence
        if debug:
            traceback.print_exc()
        print(
            f"{PROG}: internal error: {type(error).__name__}: {error} "
            "(re-run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
