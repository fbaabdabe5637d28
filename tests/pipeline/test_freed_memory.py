"""`freed_memory.release` hands freed heap pages back to the system."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# 200 MB in pieces under glibc's mmap threshold, each followed by a block that
# stays (1,000 bytes: beyond Python's small-object allocator, so on the heap):
# freeing the pieces leaves holes in the heap, which glibc keeps until it is
# trimmed. In a fresh interpreter: TensorFlow, loaded in the test process,
# changes how its allocations are served. The second test is the control that
# shows the first one measures the release, not glibc trimming on its own.
HOLES = """
import json, sys
import psutil
from pipeline import freed_memory
process = psutil.Process()
pieces, stays = [], []
for _ in range(2000):
    pieces.append(bytearray(100_000))
    stays.append(bytearray(1000))
pieces.clear()
freed = process.memory_info().rss / 2**20
if sys.argv[1] == "release":
    freed_memory.release()
print(json.dumps([freed, process.memory_info().rss / 2**20, len(stays)]))
"""


def resident_mib(action: str) -> tuple[float, float]:
    result = subprocess.run([sys.executable, "-c", HOLES, action], cwd=REPO, capture_output=True, text=True,
                            check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    freed, after, _ = json.loads(result.stdout)
    return freed, after


def test_freed_heap_pages_go_back_to_the_system():
    freed, after = resident_mib("release")
    assert after < freed - 150


def test_without_the_release_glibc_keeps_them():
    freed, after = resident_mib("keep")
    assert after > freed - 20
