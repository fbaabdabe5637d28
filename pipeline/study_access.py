"""Opening a study for the CLI's views, wherever it was run.

A local run directory (`--output DIR`) is read through its ML Metadata, the
experiment database of local runs; a study's pipeline root (`--pipeline-root
ROOT`, local or `gs://…`, what a compiled pipeline was given) through its
study record, which every run writes - on a laptop, Kubeflow or Vertex AI.
Both answer `trials()`, `leaderboard(run_id)`, `dataset_spec()` and
`validations()` (the blessing history), so the views need not care which.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from pipeline import metadata_uri
from search_algo.errors import UserError


def add_location_arguments(parser: argparse.ArgumentParser, metadata: bool = True) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--output", help="a run directory of `model-search run` (reads its ML Metadata)")
    where.add_argument("--pipeline-root", dest="pipeline_root",
                       help="a study's pipeline root, local or gs://... (the --pipeline-root of a compiled "
                       "pipeline, or DIR/pipeline_root of a local run): reads the study record there")
    if metadata:
        parser.add_argument("--metadata", help="with --output: ML Metadata (default DIR/metadata.sqlite; or "
                            f"{metadata_uri.MYSQL_FORM}; {metadata_uri.PASSWORD_HELP})")
    parser.add_argument("--study", help="the study name (default: the only study there)")


def open_record(pipeline_root: str, study: Optional[str] = None):
    """The study record under `pipeline_root`; `study` may be omitted when it holds one."""
    from components import study_record
    from pipeline.config import StudyConfig

    try:
        names = study_record.studies(pipeline_root)
    except Exception as error:  # noqa: BLE001 - unreachable bucket, no credentials, bad scheme
        raise UserError(f"--pipeline-root {pipeline_root}: cannot read it ({type(error).__name__}: "
                        f"{str(error).strip().splitlines()[0] if str(error).strip() else ''})") from None
    if study:
        wanted = {study, StudyConfig(study=study).pipeline_name}
        found = [name for name in names if name in wanted]
        if not found:
            raise UserError(f"no study {study!r} under {pipeline_root}; studies: {', '.join(names) or 'none'}")
        return study_record.StudyRecord.of(pipeline_root, found[0])
    if len(names) == 1:
        return study_record.StudyRecord.of(pipeline_root, names[0])
    if not names:
        raise UserError(f"{pipeline_root}: no study record here; is it the --pipeline-root of a study's runs?")
    raise UserError(f"{pipeline_root} holds {len(names)} studies ({', '.join(names)}); name one with --study")


def open_store(args: argparse.Namespace):
    """The ML Metadata of a local run directory (`--output`, `--metadata`, `--study`)."""
    where = metadata_uri.redacted(args.metadata) if args.metadata else os.path.join(args.output, "metadata.sqlite")
    if not args.metadata and not os.path.isfile(where):
        raise UserError(f"{args.output}: no metadata.sqlite; is this a run directory of `model-search run`?")
    from pipeline import quiet

    quiet.quiet_libraries(getattr(args, "debug", False))
    from pipeline import factory
    from pipeline.config import StudyConfig
    from pipeline.study_store import StudyStore

    config = StudyConfig(output=args.output, metadata=args.metadata)
    connection = factory.metadata_connection_config(config, create=False)
    names = [c.name for c in metadata_uri.connect(connection).get_contexts_by_type("pipeline")]
    if args.study:
        name = StudyConfig(study=args.study).pipeline_name
        if name not in names:
            raise UserError(f"no study {args.study!r} in {where}; studies: {', '.join(names) or 'none'}")
    elif len(names) == 1:
        name = names[0]
    else:
        raise UserError(f"{where} holds {len(names)} studies ({', '.join(names) or 'none'}); name one with --study")
    return StudyStore(connection, name, record=_local_record(args.output, name))


def _local_record(output: str, pipeline_name: str):
    """The study record in a local run directory's pipeline root."""
    from components import study_record
    from pipeline import factory

    return study_record.StudyRecord.of(factory.pipeline_root(os.path.abspath(output)), pipeline_name)


def open_study(args: argparse.Namespace):
    """A StudyStore (`--output`) or a StudyRecord (`--pipeline-root`)."""
    if getattr(args, "pipeline_root", None):
        from pipeline import quiet

        quiet.quiet_libraries(getattr(args, "debug", False))
        return open_record(args.pipeline_root, args.study)
    return open_store(args)


def blessing_history(validations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The validations, oldest first, each with the run whose model it was compared with."""
    run_of_model = {v.get("model_uri"): v.get("run_id") for v in validations}
    return [{**v, "baseline_run": run_of_model.get(v.get("baseline_model"))} for v in validations]
