"""The search algorithms on a synthetic objective, without training.

`search_algo/algorithms/simulate.py` runs each algorithm's study as the
pipeline does (same history, seeding, trial ids and parents) against
`StructuredObjective`, which rewards `resnet1d` blocks stacked three deep,
penalises other blocks and has a learning-rate and dropout optimum. A sanity
check of the algorithms' logic in seconds, not a ranking on real data (that is
benchmarks/search_efficiency.py).

    .venv/bin/python benchmarks/synthetic_algorithms.py

Writes benchmarks/results/synthetic_algorithms.json (every seed's best score)
and .md (the medians, from the raw file).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402

ALGORITHMS = ("random", "beam", "evolution", "surrogate", "optuna_tpe", "portfolio")
BLOCKS = ("conv1d", "resnet1d", "lstm", "gru", "attention_pool", "dense")


def measure(seeds: list[int], rounds: int, per_round: int) -> dict[str, list[float]]:
    from search_algo.algorithms.simulate import StructuredObjective, compare
    from search_algo.search_space import SearchSpace

    space = SearchSpace.from_dict({"blocks": list(BLOCKS)}, "sequence")
    return compare(list(ALGORITHMS), space, StructuredObjective(), seeds=seeds, rounds=rounds, per_round=per_round)


def markdown(report: dict) -> str:
    lines = [
        "# Search algorithms on the synthetic objective", "",
        f"`{report['command']}`: {report['rounds']} rounds of {report['per_round']} proposals, seeds "
        f"{report['seeds'][0]}-{report['seeds'][-1]}, blocks {', '.join(report['blocks'])}; "
        f"{report['machine']}; {report['date']}, commit {report['commit']}. No training: the score of the best "
        "trial of each study (higher is better).", "",
        "| algorithm | median best score | lowest | highest |", "|---|---|---|---|",
    ]
    for name, scores in report["scores"].items():
        lines.append(f"| {name} | {statistics.median(scores):.4f} | {min(scores):.4f} | {max(scores):.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=16, help="seeds 0..N-1")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=4)
    parser.add_argument("--out", default="benchmarks/results/synthetic_algorithms")
    parser.add_argument("--report-only", action="store_true", help="regenerate OUT.md from OUT.json")
    args = parser.parse_args(argv)
    if args.report_only:
        study_run.rerender(args.out, markdown)
        return 0
    seeds = list(range(args.seeds))
    report = {
        "command": " ".join(["benchmarks/synthetic_algorithms.py", *(argv if argv is not None else sys.argv[1:])]),
        "seeds": seeds, "rounds": args.rounds, "per_round": args.per_round, "blocks": list(BLOCKS),
        "machine": study_run.machine(), "threads": 1,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": study_run.git_commit(),
        "scores": {name: [round(s, 6) for s in scores]
                   for name, scores in measure(seeds, args.rounds, args.per_round).items()},
    }
    study_run.write_report(args.out, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
