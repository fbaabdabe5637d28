"""`create_pipeline(...)`: the study's TFX pipeline.

Shaped as DESIGN.md draws it: ingest -> rounds of (Proposer -> N Trainers)
-> Ensembler -> Distiller -> Evaluator -> Pusher. Today it holds ingestion;
the search nodes arrive with the search-pipeline issue.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata as importlib_metadata
from pathlib import Path

from tfx.orchestration import metadata, pipeline as tfx_pipeline

from components.ingest.component import DataIngest
from components.ingest.sources import SourceConfig
from pipeline.config import StudyConfig

BUILTIN_PACKAGES = ("mnist1d", "scikit-learn", "numpy")


def input_fingerprint(source: SourceConfig) -> str:
    """Identifies the input's content cheaply (paths, sizes, modification times,
    as TFX's file-based ExampleGen driver does); built-ins by package versions."""
    digest = hashlib.sha256()
    if source.dataset:
        for package in BUILTIN_PACKAGES:
            digest.update(f"{package}={importlib_metadata.version(package)};".encode())
    for location in filter(None, (source.data, source.test_data)):
        paths = sorted(Path().glob(location)) if any(c in location for c in "*?[") else [Path(location)]
        for path in paths:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in files:
                stat = file.stat() if file.exists() else None
                digest.update(f"{file}:{stat and stat.st_size}:{stat and stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "pipeline_root")


def create_pipeline(config: StudyConfig, enable_cache: bool = True) -> tfx_pipeline.Pipeline:
    output_dir = os.path.abspath(config.output_dir)
    ingest = DataIngest(source=config.source, input_fingerprint=input_fingerprint(config.source))
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=pipeline_root(output_dir),
        components=[ingest],
        enable_cache=enable_cache,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(metadata_path(output_dir)),
        # Empty on purpose: any flag makes each Beam component build an sdist first.
        beam_pipeline_args=[],
    )
