"""`model-search report`: rebuilds a study's report page."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="rebuild the report page (candidates, every trial, charts, lineage, blessing history)",
        description="Rebuild the report, one self-contained HTML file that works offline: with --output DIR "
        "DIR/report.html from DIR/leaderboard.json and the study's trials in ML Metadata; with --pipeline-root "
        "ROOT (local or gs://...) from the study record of Kubeflow / Vertex AI runs, written to --out.",
    )
    from pipeline.study_access import add_location_arguments

    add_location_arguments(parser)
    parser.add_argument("--run", help="with --pipeline-root: the run whose candidates to show (default: the latest)")
    parser.add_argument("--out", help="with --pipeline-root: where to write the page, a path or gs://... "
                        "(default <study>-report.html here)")
    parser.add_argument("--json", action="store_true", help="print {\"report\": PATH} on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pipeline import report
    from pipeline.study_access import open_study

    study = open_study(args)
    if args.pipeline_root:
        from pipeline.commands.leaderboard import record_leaderboard

        board = record_leaderboard(study, args.run)
        path = report.write_report_file(args.out or f"{study.root.rstrip('/').rsplit('/', 1)[-1]}-report.html",
                                        board, study)
    else:
        from pipeline.commands.leaderboard import read_leaderboard

        path = report.write_report_from_store(args.output, study, read_leaderboard(args.output))
    if args.json:
        json.dump({"report": path}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(path)
    return 0
