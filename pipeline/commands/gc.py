"""`model-search gc`: free a local run directory's disk (pipeline/cleanup.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from pipeline import config_schema, metadata_uri


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gc",
        help="free a run directory's disk: trial files the retention setting does not keep, the trial cache of "
        "finished runs, and what killed runs left behind",
        description="Apply each study's retention setting (the keep setting its latest run ran with, or --keep) to "
        "a local run directory and remove what no run will "
        "use again: folders of trials not kept (their records stay, marked removed), trial-cache entries of "
        "finished runs, models of runs never in production (but the latest run's), folders of executions that "
        "were killed, and half-pushed serving versions. Nothing of an unfinished run is touched. `model-search "
        "run` does the same at its end unless its keep setting is all.",
    )
    parser.add_argument("--output", required=True, help="a run directory of `model-search run`")
    parser.add_argument("--metadata", help="its ML Metadata, if not DIR/metadata.sqlite "
                        f"({metadata_uri.MYSQL_FORM}; {metadata_uri.PASSWORD_HELP})")
    parser.add_argument("--keep", metavar="all|best-K|members",
                        help="whose trial files stay: every trial's; the K best completed trials' and those the "
                        "study uses; or only those the study uses: ensemble members, students, each run's best "
                        "single model, and every trial of an unfinished run (default: the setting each study's "
                        f"latest run ran with, e.g. {config_schema.default_of('keep')}; all for a study that "
                        "recorded none)")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true", help="say what would go; remove nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from search_algo.errors import UserError
    from search_algo.retention import parse_retention

    retention = parse_retention(args.keep) if args.keep is not None else None
    output = os.path.abspath(args.output)
    from tfx.dsl.io import fileio

    if not args.metadata and not fileio.exists(os.path.join(output, "metadata.sqlite")):
        raise UserError(f"{args.output}: no metadata.sqlite; is this a run directory of `model-search run`?")
    from pipeline import cleanup, factory, quiet
    from pipeline.config import StudyConfig
    from pipeline.run_lock import run_directory_lock

    quiet.quiet_libraries(args.debug)
    connection = factory.metadata_connection_config(StudyConfig(output=output, metadata=args.metadata),
                                                     create=False)
    with run_directory_lock(output, "gc"):
        report = cleanup.collect_garbage(output, connection, retention, dry_run=args.dry_run)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print(report)
    return 0


def _print(report: dict) -> None:
    from pipeline.cleanup import TITLES, human_bytes

    verb = "would free" if report["dry_run"] else "freed"
    print(f"{report['output']}: {human_bytes(report['bytes_before'])} -> {human_bytes(report['bytes_after'])}, "
          f"{verb} {human_bytes(report['freed_bytes'])} (keep {report['keep']})"
          + (" - dry run, nothing removed" if report["dry_run"] else ""))
    for category, entry in report["freed"].items():
        print(f"  {TITLES[category]:<42} {entry['count']:>5}  {human_bytes(entry['bytes']):>9}")
    if report["left_linked"]:
        print(f"  left {len(report['left_linked'])} symbolic links (or what lies behind them), "
              f"e.g. {report['left_linked'][0]}")
    for study in report["studies"]:
        removed = len(study["removed_trials"])
        print(f"  study {study['study']} (keep {study['keep']}, {study['keep_from']}): {study['trials']} trials, "
              f"files of {len(study['kept'])} kept, "
              f"{removed} {'would be removed' if report['dry_run'] else 'removed'} now, {study['removed_before']} "
              "before")
        if study["unfinished_runs"]:
            print(f"    unfinished runs, left untouched: {', '.join(study['unfinished_runs'])}")
