"""Constraint-aware search against search-then-filter, on MNIST-1D.

Both arms are runs of the search-efficiency benchmark (same data, space,
epochs, seeds and algorithm); only one proposes under the limit:

- unconstrained + post-filter: a search without a limit, after which only the
  models within the limit may be chosen (the committed
  benchmarks/results/search_efficiency.json);
- constrained: `search_efficiency.py --max-params N`, every proposal within
  the limit (search_algo/constraints.py).

For each seed: the post-filter's pick is its best model within the limit on
eval after the whole budget, found at trial n_post; n_constrained is the first
trial after which the constrained search's best-on-eval model is at least as
good on eval. Target: n_constrained <= n_post / 2 (a post-filter that finds no
model within the limit needs more than its budget). Test accuracy of both
picks is reported; nothing is chosen on test.

    .venv/bin/python benchmarks/search_efficiency.py --methods beam --seeds 0 1 2 --max-params 10000 \\
        --threads 1 --transfer-pairs 0 --out benchmarks/results/search_efficiency_max10k
    .venv/bin/python benchmarks/constrained_search.py --method beam \\
        --constrained benchmarks/results/search_efficiency_max10k.json

Writes benchmarks/results/constrained_search.json and .md.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402


def post_filter_pick(records: list[dict], max_params: int) -> tuple[Optional[dict], Optional[int]]:
    """The best-on-eval completed model within the limit, and the trial (1-based) that found it."""
    best, found = None, None
    for index, item in enumerate(records, start=1):
        if (item["status"] == "completed" and item["num_params"] is not None and item["num_params"] <= max_params
                and (best is None or item["eval_accuracy"] > best["eval_accuracy"])):
            best, found = item, index
    return best, found


def trials_to_reach(records: list[dict], eval_accuracy: float) -> Optional[int]:
    """The first trial (1-based) after which the best-on-eval model has at least this eval accuracy."""
    best = -math.inf
    for index, item in enumerate(records, start=1):
        if item["status"] == "completed" and item["eval_accuracy"] is not None:
            best = max(best, item["eval_accuracy"])
        if best >= eval_accuracy:
            return index
    return None


def compare_seed(unconstrained: list[dict], constrained: list[dict], max_params: int) -> dict:
    over = [r for r in constrained if r["num_params"] is not None and r["num_params"] > max_params]
    pick, n_post = post_filter_pick(unconstrained, max_params)
    chosen, _ = post_filter_pick(constrained, max_params)
    # Without a model within the limit, the post-filter has nothing to choose: any model within it beats that.
    target = pick["eval_accuracy"] if pick else -math.inf
    n_constrained = trials_to_reach(constrained, target)
    return {
        "post_filter": {"trials": len(unconstrained), "found_at": n_post,
                        "within_limit": sum(1 for r in unconstrained if r["num_params"] is not None
                                            and r["num_params"] <= max_params),
                        "eval_accuracy": pick and pick["eval_accuracy"], "test_accuracy": pick and pick["test_accuracy"],
                        "num_params": pick and pick["num_params"]},
        "constrained": {"trials": len(constrained), "reached_at": n_constrained, "over_limit": len(over),
                        "final_eval_accuracy": chosen and chosen["eval_accuracy"],
                        "final_test_accuracy": chosen and chosen["test_accuracy"],
                        "final_num_params": chosen and chosen["num_params"]},
        "target_met": n_constrained is not None and (n_post is None or n_constrained <= n_post / 2),
    }


def build(unconstrained: dict, constrained: dict, method: str, max_params: int, command: str) -> dict:
    for key in ("dataset", "epochs", "space", "budget"):
        if unconstrained[key] != constrained[key]:
            raise SystemExit(f"constrained_search: the two runs differ in {key}")
    seeds = sorted(set(unconstrained["trials"][method]) & set(constrained["trials"][method]), key=int)
    per_seed = {seed: compare_seed(unconstrained["trials"][method][seed], constrained["trials"][method][seed],
                                   max_params) for seed in seeds}
    return {
        "command": command, "machine": study_run.machine(), "method": method, "max_params": max_params,
        "seeds": [int(s) for s in seeds], "epochs": constrained["epochs"], "budget": constrained["budget"],
        "threads": constrained.get("threads"),
        "runs": {"unconstrained": unconstrained.get("runs") or [unconstrained["command"]],
                 "constrained": constrained.get("runs") or [constrained["command"]]},
        "per_seed": per_seed,
        "target_met_in_median": statistics.median(int(r["target_met"]) for r in per_seed.values()) == 1,
    }


def markdown(report: dict) -> str:
    def fmt(value, pattern="{:.3f}"):
        return "–" if value is None else pattern.format(value)

    budget = report["budget"]
    lines = [
        f"# Constraint-aware search on mnist1d: `{report['method']}`, at most {report['max_params']:,} parameters",
        "",
        f"{report['epochs']} epochs a trial, budget {budget} trials, seeds {report['seeds']} "
        f"({report['machine']}; {report['threads']} TensorFlow thread(s)). Post-filter: the unconstrained search's "
        "best model within the limit (on eval) after its budget, and the trial that found it. Constrained: the "
        "trials the constrained search needed until its best-on-eval model was at least as good on eval, and its "
        "own pick after the budget. Target: constrained ≤ half the post-filter's trials.",
        "",
        "| seed | post-filter: models within | found at trial | eval | test | params | constrained: reached at "
        "trial | proposals over the limit | final eval | final test | params | target met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for seed, row in report["per_seed"].items():
        post, ours = row["post_filter"], row["constrained"]
        lines.append(
            f"| {seed} | {post['within_limit']} of {post['trials']} | {post['found_at'] or f'>{budget}'} | "
            f"{fmt(post['eval_accuracy'])} | {fmt(post['test_accuracy'])} | {fmt(post['num_params'], '{:,}')} | "
            f"{ours['reached_at'] or f'>{budget}'} | {ours['over_limit']} | {fmt(ours['final_eval_accuracy'])} | "
            f"{fmt(ours['final_test_accuracy'])} | {fmt(ours['final_num_params'], '{:,}')} | "
            f"{'yes' if row['target_met'] else 'no'} |")
    lines += ["", f"Target met in the median seed: {'yes' if report['target_met_in_median'] else 'no'}. "
              f"Command: `{report['command']}`; the runs' own commands are in the JSON."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="beam")
    parser.add_argument("--constrained", required=True, help="a search-efficiency JSON run with --max-params")
    parser.add_argument("--unconstrained", default="benchmarks/results/search_efficiency.json")
    parser.add_argument("--out", default="benchmarks/results/constrained_search")
    args = parser.parse_args(argv)
    constrained = json.loads(Path(args.constrained).read_text())
    max_params = (constrained.get("options") or {}).get("max_params")
    if not max_params:
        parser.error(f"{args.constrained} was not run with --max-params")
    command = "benchmarks/constrained_search.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = build(json.loads(Path(args.unconstrained).read_text()), constrained, args.method, max_params, command)
    Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    Path(args.out).with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
