"""Creating an object only where none exists, complete or not at all.

The study record's objects are written once (components/study_record.py). A
check followed by a write does not make that so: two writers that both check
before either writes both write, and the second replaces the first. So the
creation itself must fail when the name is taken:

- Local files: the object is written under a temporary name and fsynced, then
  linked to its name - `link` fails when the name exists, where `rename`
  would replace - and the directory is fsynced. After a crash or a power loss
  the object is absent or complete, never empty. (On a file system without
  hard links it falls back to a check, then a rename: best effort.)
- Cloud Storage: the upload carries the precondition `ifGenerationMatch=0`,
  which the service refuses (412) when a live object has the name. TensorFlow's
  file system behind `fileio` sends no preconditions, so this goes through the
  google-cloud-storage client (installed with apache-beam[gcp]).
- Any other scheme (`ram://` in tests, or S3 / HDFS through `fileio`'s
  plugins) offers no such primitive through `fileio`: a check, then a write
  under a temporary name and a rename - best effort, as a writer that passes
  the check at the same moment as another may still replace its object.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import threading

from tfx.dsl.io import fileio

from components import files

GCS_PREFIX = "gs://"
# link() errors that mean "this file system has no hard links", not "the name is taken".
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}

_gcs_client = None
_gcs_client_lock = threading.Lock()


def create(path: str, text: str, content_type: str = "application/json") -> bool:
    """Writes `text` as the new object `path`; False, and nothing written, if
    an object of that name exists (or is created at the same moment)."""
    if path.startswith(GCS_PREFIX):
        return _create_on_gcs(path, text, content_type)
    if "://" not in path:
        return _create_local(path, text.encode("utf-8"))
    return _create_elsewhere(path, text)


def _create_local(path: str, data: bytes) -> bool:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    temporary = files.temporary_name(path)
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            if os.path.lexists(path):
                return False
            os.rename(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    # The new name is an entry of the directory: without this it may be lost in a power cut.
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return True


def gcs_client():
    """One google-cloud-storage client per process (credentials as on the cluster:
    application default credentials, or STORAGE_EMULATOR_HOST)."""
    global _gcs_client
    with _gcs_client_lock:
        if _gcs_client is None:
            from google.cloud import storage

            _gcs_client = storage.Client()
        return _gcs_client


def _create_on_gcs(path: str, text: str, content_type: str) -> bool:
    from google.api_core import exceptions

    bucket, _, name = path[len(GCS_PREFIX):].partition("/")
    blob = gcs_client().bucket(bucket).blob(name)
    try:
        # The precondition also makes the client's retries safe: a retry after a
        # lost reply is refused (412) as the object is there, written once.
        blob.upload_from_string(text, content_type=content_type, if_generation_match=0)
    except exceptions.PreconditionFailed:
        return False
    return True


def _create_elsewhere(path: str, text: str) -> bool:
    if fileio.exists(path):
        return False
    fileio.makedirs(posixpath.dirname(path))
    temporary = files.temporary_name(path)
    with fileio.open(temporary, "w") as handle:
        handle.write(text)
    fileio.rename(temporary, path, overwrite=True)
    return True
