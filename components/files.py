"""Small file helpers over TFX's fileio (local paths and gs:// alike)."""

from __future__ import annotations

import os
import uuid

from tfx.dsl.io import fileio


def temporary_name(path: str) -> str:
    """A name beside `path` that no other writer uses: two processes writing
    the same file must not write into each other's temporary file."""
    return f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def write_text(path: str, text: str) -> None:
    """Writes through a temporary name: a reader never sees half a file."""
    if os.path.dirname(path):
        fileio.makedirs(os.path.dirname(path))
    temporary = temporary_name(path)
    with fileio.open(temporary, "w") as handle:
        handle.write(text)
    fileio.rename(temporary, path, overwrite=True)


def read_text(path: str) -> str:
    with fileio.open(path) as handle:
        return handle.read()


def copy_tree(source: str, destination: str) -> None:
    for directory, _, files in fileio.walk(source):
        relative = os.path.relpath(directory, source)
        target_dir = destination if relative == "." else os.path.join(destination, relative)
        fileio.makedirs(target_dir)
        for name in files:
            fileio.copy(os.path.join(directory, name), os.path.join(target_dir, name), overwrite=True)
