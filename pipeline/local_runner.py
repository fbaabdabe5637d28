"""Runs a study's pipeline on this machine and reads its results back from ML Metadata."""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

log = logging.getLogger(__name__)


def quiet_libraries(debug: bool) -> None:
    """TensorFlow, Beam and TFX log at INFO by default; users see our lines only."""
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="apache_beam")
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.WARNING)
        for name in ("tensorflow", "tfx", "ml_metadata"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Beam warns about optional speed-ups (python-snappy) on every run.
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        # TFX reports a failed node through absl at ERROR before re-raising
        # the exception, which the CLI turns into one clear line.
        logging.getLogger("absl").setLevel(logging.CRITICAL)


def run_study(config, debug: bool = False) -> dict[str, Any]:
    quiet_libraries(debug)
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipeline import factory

    os.makedirs(config.output_dir, exist_ok=True)
    log.info("running study %r into %s", config.study_name, os.path.abspath(config.output_dir))
    pipeline = factory.create_pipeline(config)
    LocalDagRunner().run(pipeline)
    return read_results(config)


def read_results(config) -> dict[str, Any]:
    """The newest live outputs of the study's pipeline, from ML Metadata."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    from pipeline import factory
    from search_algo.dataset_spec import DatasetSpec

    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(factory.metadata_path(os.path.abspath(config.output_dir)))
    )
    context = store.get_context_by_type_and_name("pipeline", config.pipeline_name)
    artifacts = store.get_artifacts_by_context(context.id)
    types = {t.id: t.name for t in store.get_artifact_types()}
    newest: dict[str, Any] = {}
    for artifact in artifacts:
        if artifact.state != artifact.LIVE:
            continue
        name = types[artifact.type_id]
        if name not in newest or artifact.id > newest[name].id:
            newest[name] = artifact
    spec_artifact = newest["components.DatasetSpec"]
    spec = DatasetSpec.load(spec_artifact.uri)
    return {
        "dataset_spec": spec.to_dict(),
        "dataset_spec_uri": spec_artifact.uri,
        "examples_uri": newest["Examples"].uri,
        "metadata": factory.metadata_path(os.path.abspath(config.output_dir)),
    }
