"""`model-search trials`: every trial of a study, across runs."""

from __future__ import annotations

import json
import sys

from pipeline.study_access import add_location_arguments, open_study


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "trials",
        help="list a study's trials (a local run directory, or a study's pipeline root such as gs://...)",
        description="List every trial of a study - completed and failed, across runs - from a local run "
        "directory's ML Metadata (--output) or from the study record under a study's pipeline root "
        "(--pipeline-root, local or gs://..., where Kubeflow and Vertex AI runs keep it).",
    )
    add_location_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    trials = open_study(args).trials()
    if args.json:
        json.dump([t.summary() for t in trials], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("trial", "status", "parent", "blocks", "params", "eval", "seconds", box=None, header_style="bold")
    for t in trials:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(t.metrics.items())) if t.completed else (t.error or "")
        table.add_row(escape(t.trial_id), t.status, escape(t.parent or "-"), " > ".join(t.block_names),
                      str(t.num_params or "-"), escape(shown), f"{t.train_seconds or 0:.1f}")
    Console(width=160).print(table)
    return 0
