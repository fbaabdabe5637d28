"""Handing what a process freed back to the system.

glibc keeps freed heap pages for the next allocation, so a long-lived worker
stays at the high-water mark of the largest node it ran (an ingest's buffers,
say) through every later node. `release` trims them after each node.
"""

from __future__ import annotations

import ctypes
import gc


def release() -> None:
    """Python's garbage collected, then glibc's free heap pages handed back to
    the system (malloc_trim); nothing to do where there is no glibc."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
