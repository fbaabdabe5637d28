"""`model-search datasets`: the built-in data sets (shipped inside packages, never downloaded)."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list the built-in data sets",
        description="List the built-in data sets. They ship inside installed packages; nothing is downloaded. "
        "Options follow the name as a query, quoted in a shell: --dataset 'mnist1d?test_seed=7&test_size=4000'.",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from components.ingest.builtin import DATASETS

    rows = [DATASETS[name].describe() for name in sorted(DATASETS)]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "task", "input", "description", box=None, header_style="bold")
    for row in rows:
        options = "".join(f"; option {name}: {meaning}" for name, meaning in row["options"].items())
        table.add_row(row["name"], row["task"], row["input_kind"], row["description"] + options)
    Console(width=120).print(table)
    return 0
