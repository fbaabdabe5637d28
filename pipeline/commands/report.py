"""`model-search report`: rebuilds DIR/report.html from the run directory."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="rebuild DIR/report.html (candidates, every trial, charts, lineage)",
        description="Rebuild DIR/report.html, one self-contained HTML file that works offline, from "
        "DIR/leaderboard.json and the study's trials in ML Metadata.",
    )
    parser.add_argument("--output", required=True, help="the run directory")
    parser.add_argument("--metadata", help="ML Metadata (default DIR/metadata.sqlite; or mysql://...)")
    parser.add_argument("--study", help="the study name (default: the only study in the metadata)")
    parser.add_argument("--json", action="store_true", help="print {\"report\": PATH} on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pipeline import report
    from pipeline.commands.leaderboard import read_leaderboard
    from pipeline.commands.trials import open_store

    board = read_leaderboard(args.output)
    path = report.write_report_from_store(args.output, open_store(args), board)
    if args.json:
        json.dump({"report": path}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(path)
    return 0
