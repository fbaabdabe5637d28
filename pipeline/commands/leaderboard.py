"""`model-search leaderboard`: the run's three candidates and the chosen one."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="show a run's candidates (best single, ensemble, distilled) and the chosen one",
        description="Print DIR/leaderboard.json - the best single model, the ensemble and the distilled "
        "student, chosen on the eval split and reported on the test split - as a table.",
    )
    parser.add_argument("--output", required=True, help="the run directory")
    parser.add_argument("--json", action="store_true", help="print the leaderboard JSON on stdout")
    parser.set_defaults(handler=run)


def read_leaderboard(output: str) -> dict[str, Any]:
    from search_algo.errors import UserError

    path = os.path.join(output, "leaderboard.json")
    if not os.path.isfile(path):
        raise UserError(f"{output}: no leaderboard.json; is this the directory of a finished `model-search run`?")
    try:
        with open(path, encoding="utf-8") as handle:
            board = json.load(handle)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable leaderboard ({error})") from None
    if not isinstance(board, dict) or not isinstance(board.get("candidates"), list):
        raise UserError(f"{path}: not a leaderboard (no candidates list)")
    return board


def _scalars(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run(args) -> int:
    board = read_leaderboard(args.output)
    if args.json:
        json.dump(board, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # Same look as `model-search trials`.
    table = Table("candidate", "trials", "params", "eval", "test", "latency ms", box=None, header_style="bold",
                  title=escape(f"{board.get('study', '')} {board.get('run_id', '')}".strip()) or None)
    for candidate in board["candidates"]:
        name = candidate.get("name", "?")
        shown = {
            split: ", ".join(f"{k} {v:.4g}" for k, v in sorted(_scalars(candidate.get(split)).items())) or "-"
            for split in ("eval", "test")
        }
        latency = candidate.get("latency_ms")
        table.add_row(
            escape(f"{name} (chosen)" if name == board.get("chosen") else name),
            escape(", ".join(candidate.get("trial_ids") or []) or "-"),
            str(candidate.get("num_params") or "-"),
            shown["eval"],
            shown["test"],
            f"{latency:.3g}" if isinstance(latency, (int, float)) else "-",
        )
    Console(width=160).print(table)
    return 0
