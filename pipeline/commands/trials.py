"""`model-search trials`: every trial of a study, read back from ML Metadata."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "trials",
        help="list a study's trials from ML Metadata",
        description="List every trial of a study - completed and failed, across runs - from ML Metadata "
        "(not from the files beside it).",
    )
    parser.add_argument("--output", required=True, help="the run directory")
    parser.add_argument("--metadata", help="ML Metadata (default DIR/metadata.sqlite; or mysql://...)")
    parser.add_argument("--study", help="the study name (default: the only study in the metadata)")
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.set_defaults(handler=run)


def open_store(args):
    """The study store for --output/--metadata/--study, with clear errors."""
    import os

    from search_algo.errors import UserError

    path = args.metadata or os.path.join(args.output, "metadata.sqlite")
    if not args.metadata and not os.path.isfile(path):
        raise UserError(f"{args.output}: no metadata.sqlite; is this a run directory of `model-search run`?")
    from pipeline import local_runner

    local_runner.quiet_libraries(getattr(args, "debug", False))
    from ml_metadata import metadata_store

    from pipeline import factory
    from pipeline.config import StudyConfig
    from pipeline.study_store import StudyStore

    config = StudyConfig(output=args.output, metadata=args.metadata)
    connection = factory.metadata_connection_config(config)
    names = [c.name for c in metadata_store.MetadataStore(connection).get_contexts_by_type("pipeline")]
    if args.study:
        name = StudyConfig(study=args.study).pipeline_name
        if name not in names:
            raise UserError(f"no study {args.study!r} in {path}; studies: {', '.join(names) or 'none'}")
    elif len(names) == 1:
        name = names[0]
    else:
        raise UserError(f"{path} holds {len(names)} studies ({', '.join(names) or 'none'}); name one with --study")
    return StudyStore(connection, name)


def run(args) -> int:
    store = open_store(args)
    trials = store.trials()
    if args.json:
        json.dump([t.summary() for t in trials], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("trial", "status", "parent", "blocks", "params", "eval", "seconds", box=None, header_style="bold")
    for t in trials:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(t.metrics.items())) if t.completed else (t.error or "")
        table.add_row(t.trial_id, t.status, t.parent or "-", " > ".join(t.block_names),
                      str(t.num_params or "-"), shown, f"{t.train_seconds or 0:.1f}")
    Console(width=160).print(table)
    return 0
