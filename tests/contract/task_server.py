"""Starts the contract tests' task processes from one that has imported TFX once.

A pod runs `python -m ENTRYPOINT ARGS` in a fresh container; most of a small
task's time there is Python importing TensorFlow, TFX and Beam (about 5-8 s
here, against a second or two of work). This server imports the entrypoint and
the executors' modules once, then forks a child for each task: every task still
runs in a process of its own, from the spec's own command and arguments, with
nothing of an earlier task in it; only the imports are shared.

    python tests/contract/task_server.py MODULE [MODULE ...]

reads one JSON request per line on stdin - {"argv": ["-m", MODULE, ARG, ...],
"log": PATH} - runs it as `python -m MODULE ARG ...` would, its stdout and
stderr going to PATH, and answers {"returncode": N} on stdout (negative: killed
by that signal, as subprocess reports it). Nothing else is written to stdout.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import traceback


def _run_child(argv: list[str], log: str) -> None:
    """The forked child: never returns."""
    code = 1
    try:
        target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(target, 2)
        if argv[:1] != ["-m"] or len(argv) < 2:
            raise ValueError(f"only `python -m MODULE ...` commands are served, not {argv}")
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, (int, type(None))):
            print(stop.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - a task's failure is its exit status, as in a pod
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(preload: list[str]) -> int:
    for module in preload:
        importlib.import_module(module)
    protocol = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        protocol.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(request["argv"], request["log"])
        _, status = os.waitpid(pid, 0)
        protocol.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
