"""What data a source names, cheaply: file names, sizes and modification
times (as TFX's file-based ExampleGen driver identifies a span), or for a
built-in data set the versions of the packages that generate it and its
options."""

from __future__ import annotations

import hashlib
import posixpath
from importlib import metadata as importlib_metadata

import tensorflow as tf

from components.ingest import builtin
from components.ingest.sources import SourceConfig

BUILTIN_PACKAGES = ("mnist1d", "scikit-learn", "numpy")


def is_remote(location: str) -> bool:
    return "://" in location


def _files(location: str) -> list[str]:
    if any(c in location for c in "*?["):
        paths = tf.io.gfile.glob(location)
    elif tf.io.gfile.exists(location):
        paths = [location]
    else:
        return [location]
    found = []
    for path in sorted(paths):
        if tf.io.gfile.isdir(path):
            for folder, _, names in tf.io.gfile.walk(path):
                found += [posixpath.join(folder, name) for name in names]
        else:
            found.append(path)
    return sorted(found)


def input_fingerprint(source: SourceConfig, read_remote: bool = True) -> str:
    """`read_remote=False` identifies remote data by its location alone:
    compiling a pipeline for a cluster is offline and has no credentials."""
    digest = hashlib.sha256()
    if source.dataset:
        for package in BUILTIN_PACKAGES:
            digest.update(f"{package}={importlib_metadata.version(package)};".encode())
        # A built-in set's options change its data (a fresh mnist1d test draw);
        # a bare name adds nothing, so the standard sets' fingerprints stay as they were.
        if "?" in source.dataset:
            digest.update(f"builtin={builtin.canonical_source(source.dataset)};".encode())
    for location in filter(None, (source.data, source.test_data)):
        if is_remote(location) and not read_remote:
            digest.update(f"{location};".encode())
            continue
        for file in _files(location):
            try:
                stat = tf.io.gfile.stat(file)
                digest.update(f"{file}:{stat.length}:{stat.mtime_nsec};".encode())
            except tf.errors.NotFoundError:
                digest.update(f"{file}:missing;".encode())
    return digest.hexdigest()


def data_fingerprint(source_config_json: str, fingerprint: str) -> str:
    """Identifies ingested Examples by what was read and how (the source
    config holds the split ratios and seed)."""
    return hashlib.sha256(f"{source_config_json}\n{fingerprint}".encode()).hexdigest()[:32]
