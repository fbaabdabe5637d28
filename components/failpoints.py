"""Failpoints: named places where a test can make a real process die.

The fault-injection tests (tests/faults/) kill a running study at each stage
boundary and check that re-running it loses nothing and repeats nothing. A
kill timed from outside is slow and flaky; a failpoint is exact: when the
environment variable `MODEL_SEARCH_FAILPOINTS` names a point (comma-separated
`<who>@<node>:<when>`), the process that reaches it kills itself with SIGKILL,
exactly as the out-of-memory killer or `kill -9` would. Unset, a failpoint
costs one dictionary lookup.

Points: `runner@<node>:ready` / `runner@<node>:start` / `runner@<node>:done`
(the local runner dies with the node ready, before any worker has it / just
after it hands the node to a worker / when the node has finished; after
`start` a node of a few milliseconds, such as the Pusher, may still finish in
its worker: the kernel sends the parent-death signal only once the killed
runner's memory is torn down, as with a real kill),
`worker@<node>:start` (the runner kills the worker it just handed the node
to) and `worker@<node>:trial-<n>` (a trainer's worker dies when its n-th
trial starts).
With `MODEL_SEARCH_FAILPOINTS_DIR` set, each point fires once (a file there
remembers it), as a real crash happens once: the node started again after it
gets past the point.
"""

from __future__ import annotations

import os
import signal

FAILPOINTS_ENV = "MODEL_SEARCH_FAILPOINTS"
FIRED_DIR_ENV = "MODEL_SEARCH_FAILPOINTS_DIR"
# Set by the local runner's worker for the node it runs.
NODE_ENV = "MODEL_SEARCH_NODE"


def armed(point: str) -> bool:
    return point in {p.strip() for p in os.environ.get(FAILPOINTS_ENV, "").split(",") if p.strip()}


def fires(point: str) -> bool:
    """True if the point is armed (and, with a fired-points directory, has
    not fired yet: it is marked fired now)."""
    if not armed(point):
        return False
    fired = os.environ.get(FIRED_DIR_ENV)
    if fired:
        try:
            # A test's own local folder; exclusive creation fires each point once.
            os.close(os.open(os.path.join(fired, point.replace("/", "_")), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
    return True


def reach(point: str) -> None:
    """Dies here (SIGKILL) if the point fires."""
    if fires(point):
        os.kill(os.getpid(), signal.SIGKILL)


def reach_in_node(when: str) -> None:
    """`worker@<the node this process runs>:<when>`."""
    node = os.environ.get(NODE_ENV)
    if node:
        reach(f"worker@{node}:{when}")
