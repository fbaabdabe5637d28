"""`model-search leaderboard`: a run's candidates, the chosen one, and the study's blessing history."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from pipeline.study_access import add_location_arguments, blessing_history, open_study


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="show a run's candidates (best single, ensemble, distilled), the chosen one and which runs' "
        "models were blessed and pushed",
        description="Print a run's leaderboard - the best single model, the ensemble and the distilled student, "
        "chosen on estimates of their eval metrics not fitted on the examples that score them (out-of-fold for the "
        "ensemble and the best single model, which are chosen on eval) and reported on the test split, never "
        "chosen on it - and the study's blessing history: each run's "
        "chosen model, whether TFX's Evaluator blessed it against the model in production, and whether it was "
        "pushed. --output DIR reads DIR/leaderboard.json; --pipeline-root ROOT (local or gs://...) reads the "
        "study record of Kubeflow / Vertex AI runs.",
    )
    add_location_arguments(parser, metadata=False)
    parser.add_argument("--run", help="with --pipeline-root: the run id (default: the latest run)")
    parser.add_argument("--json", action="store_true",
                        help="print the leaderboard JSON on stdout (with --pipeline-root: {leaderboard, history})")
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


def record_leaderboard(record, run_id: str | None) -> dict[str, Any]:
    """A run's leaderboard from a study record (default: the latest run's)."""
    from search_algo.errors import UserError

    board = record.leaderboard(run_id)
    if board is None:
        runs = list(record.leaderboards())
        if run_id:
            raise UserError(f"no leaderboard of run {run_id!r} in {record.root}; runs with one: "
                            f"{', '.join(runs) or 'none'}")
        raise UserError(f"{record.root}: no run has finished its evaluation yet; see `model-search trials`")
    validation = record.validation(board.get("run_id"))
    if validation is not None:
        board = {**board, "validation": {k: validation.get(k) for k in ("blessed", "baseline_model", "pushed",
                                                                           "pushed_to")}}
    return board


def _scalars(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _shown(metrics: Any) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in sorted(_scalars(metrics).items())) or "-"


def run(args) -> int:
    if args.pipeline_root:
        study = open_study(args)
        board = record_leaderboard(study, args.run)
    else:
        board = read_leaderboard(args.output)
        study = _local_record(args.output, board)
    history = blessing_history(study.validations()) if study is not None else []
    if args.json:
        json.dump({"leaderboard": board, "history": history} if args.pipeline_root else board, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=160)
    # Same look as `model-search trials`.
    # `estimate` is what the choice read; `eval` scores the shipped model on all of eval; test is report-only.
    table = Table("candidate", "trials", "params", "estimate", "eval", "test", "latency ms", box=None,
                  header_style="bold",
                  title=escape(f"{board.get('study', '')} {board.get('run_id', '')}".strip()) or None)
    for candidate in board["candidates"]:
        name = candidate.get("name", "?")
        latency = candidate.get("latency_ms")
        table.add_row(
            escape(f"{name} (chosen)" if name == board.get("chosen") else name),
            escape(", ".join(candidate.get("trial_ids") or []) or "-"),
            str(candidate.get("num_params") or "-"),
            _shown(candidate.get("estimate")),
            _shown(candidate.get("eval")),
            _shown(candidate.get("test")),
            f"{latency:.3g}" if isinstance(latency, (int, float)) else "-",
        )
    console.print(table)
    estimated = [(c.get("name", "?"), (c.get("estimated_by") or {}).get("how")) for c in board["candidates"]]
    if any(how for _, how in estimated):
        console.print("chosen on the estimates (test is reported only); how each was made:")
        for name, how in estimated:
            console.print(escape(f"  {name}: {how or '-'}"))
    if history:
        blessings = Table("run", "chosen", "params", "eval", "blessed", "against", "pushed", box=None,
                          header_style="bold", title="blessing history (oldest first)")
        for entry in history:
            blessings.add_row(escape(str(entry.get("run_id"))), escape(str(entry.get("candidate") or "-")),
                              str(entry.get("num_params") or "-"), _shown(entry.get("eval")),
                              "yes" if entry.get("blessed") else "no",
                              escape(str(entry.get("baseline_run") or "-")),
                              escape(entry.get("pushed_to") or "") if entry.get("pushed") else "no")
        console.print(blessings)
    return 0


def _local_record(output: str, board: dict[str, Any]):
    """The study record in a local run directory, named by the leaderboard's study."""
    from components.study_record import StudyRecord
    from pipeline import factory
    from pipeline.config import StudyConfig

    record = StudyRecord.of(factory.pipeline_root(os.path.abspath(output)),
                            StudyConfig(study=board.get("study") or "study").pipeline_name)
    return record if record.exists() else None
