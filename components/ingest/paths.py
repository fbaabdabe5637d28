"""Paths: local paths and URIs (`gs://…`) alike. pathlib would turn
`gs://b/x` into `gs:/b/x`, so names come from string operations that leave a
URI's scheme alone and print a local path exactly as pathlib did. Every file
is reached through TFX's `fileio`, imported where a file is first touched so
that checking settings stays free of TensorFlow's start-up; a file system's
own failure becomes a one-line DataError through `file_system_errors`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import re
from typing import Iterator

from search_algo.errors import DataError, UserError

# How TFX's file-system registry tells a scheme from a local path.
_URI_SCHEME = re.compile(r"^[a-z0-9]+://")
_GLOB_MAGIC = re.compile(r"[*?[]")
# How many repeated files a warning names.
_REPEATS_NAMED = 5

log = logging.getLogger(__name__)


def is_uri(path: str) -> bool:
    return bool(_URI_SCHEME.match(path))


def clean_path(path: str) -> str:
    """A local path as pathlib prints it (no `.` parts, no doubled or trailing
    slashes); a URI only loses trailing slashes."""
    if is_uri(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{rest.rstrip('/')}"
    root = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return root + "/".join(part for part in path.split("/") if part not in ("", ".")) or "."


def path_name(path: str) -> str:
    """The last part of a path or URI, as pathlib's `name`."""
    name = clean_path(path).rsplit("/", 1)[-1]
    return "" if name == "." else name


def _split_suffix(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")


def path_stem(path: str) -> str:
    """The name without its last suffix, as pathlib's `stem`."""
    return _split_suffix(path_name(path))[0]


def path_suffix(path: str) -> str:
    """The last suffix (`.png`), as pathlib's `suffix`."""
    return _split_suffix(path_name(path))[1]


def join_path(directory: str, name: str) -> str:
    return name if directory == "." else posixpath.join(directory, name)


def has_magic(pattern: str) -> bool:
    return bool(_GLOB_MAGIC.search(pattern))


@contextlib.contextmanager
def file_system_errors(path: str) -> Iterator[None]:
    """A file system's own failure (an unknown scheme, no permission, no
    credentials) becomes a one-line DataError naming the path."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - narrowed right below
        import tensorflow as tf  # already loaded: only code using fileio runs in here
        from tfx.dsl.io import fileio

        if not isinstance(error, (OSError, fileio.NotFoundError, tf.errors.OpError)):
            raise
        detail = next(iter(str(error).strip().splitlines()), "")
        raise DataError(f"{path}: cannot read it ({type(error).__name__}: {detail})") from None


def is_file(path: str) -> bool:
    from tfx.dsl.io import fileio

    return fileio.exists(path) and not fileio.isdir(path)


def list_children(directory: str) -> list[str]:
    from tfx.dsl.io import fileio

    # Object stores list a sub-folder as `name/`.
    return [name.rstrip("/") for name in fileio.listdir(directory)]


def _real_path(path: str) -> str:
    # Object stores have no links: a URI is its own real path.
    return path if is_uri(path) else os.path.realpath(path)


def list_files(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Every file in `folder` and its sub-folders whose suffix (any case) is
    one of `suffixes`, sorted, each real file once.

    Symbolic links are followed, but not a link back to `folder` or a folder
    above it (which would repeat it without end), and a file reached twice
    (through a link to it) is listed once, under the first of its paths
    found; both with a warning: copies would weigh a file more and put it in
    the training and the test split alike."""
    from tfx.dsl.io import fileio

    base = clean_path(folder)
    real_base = _real_path(base)
    found, walked, repeated = [], set(), []
    for directory, sub_folders, names in fileio.walk(folder):
        real = _real_path(directory)
        # A folder above `folder` leads back into it (and into its sibling class folders).
        if real in walked or (walked and (real_base + "/").startswith(real.rstrip("/") + "/")):
            repeated.append(clean_path(directory))
            sub_folders[:] = []  # a loop: not walked again
            continue
        walked.add(real)
        sub_folders.sort()  # the same path is kept on every run
        found.extend(
            clean_path(posixpath.join(directory, name)) for name in names if path_suffix(name).lower() in suffixes
        )
    listed, seen = [], set()
    for path in sorted(found):
        real = _real_path(path)
        if real in seen:
            repeated.append(path)
        else:
            seen.add(real)
            listed.append(path)
    if repeated:
        shown = [path[len(base) + 1:] if path.startswith(base + "/") else path for path in sorted(repeated)]
        more = f" and {len(shown) - _REPEATS_NAMED} more" if len(shown) > _REPEATS_NAMED else ""
        log.warning("%s: %d path(s) reach a file or folder again through symbolic links; each file is used once "
                    "(%s%s)", base, len(shown), ", ".join(shown[:_REPEATS_NAMED]), more)
    return listed


def glob_paths(pattern: str) -> list[str]:
    """The paths matching a glob, sorted. As with Python's `glob`, a wildcard
    does not match a name starting with "." unless its part of the pattern
    does (tf.io.gfile's glob matches hidden names too)."""
    from tfx.dsl.io import fileio

    parts = pattern.split("/")
    # tf.io.gfile answers `*.tfrecord` with `./a.tfrecord`; Python's glob with `a.tfrecord`.
    added_dot = not is_uri(pattern) and not pattern.startswith("./")

    def as_python(match: str) -> str:
        return match[2:] if added_dot and match.startswith("./") else match

    def visible(match: str) -> bool:
        matched = match.split("/")
        return len(matched) != len(parts) or not any(
            has_magic(part) and not part.startswith(".") and name.startswith(".")
            for part, name in zip(parts, matched)
        )

    return sorted(match for match in map(as_python, fileio.glob(pattern)) if visible(match))


def read_bytes(path: str) -> bytes:
    from tfx.dsl.io import fileio

    with fileio.open(path, "rb") as handle:
        return handle.read()
