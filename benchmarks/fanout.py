"""Fan-out and orchestration overhead of the local pipeline.

Runs the same study twice - N=2 concurrent trainers with T trials each, and
N=1 trainer with 2T trials (the same trials in total) - and reports wall
time, the time inside model training (sum of the trials' `train_seconds`),
the time of the post-search steps, and the rest (orchestration: TFX start-up,
launching nodes, ML Metadata, data loading).

    .venv/bin/python benchmarks/fanout.py [--dataset mnist1d] [--epochs 10] [--out benchmarks/results/fanout.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_study(args, trainers: int, trials_per_trainer: int, output: Path) -> dict:
    command = [
        sys.executable, "-m", "pipeline.cli", "run", "--dataset", args.dataset, "--rounds", str(args.rounds),
        "--trainers", str(trainers), "--trials-per-trainer", str(trials_per_trainer), "--epochs", str(args.epochs),
        "--distill-epochs", str(args.distill_epochs), "--seed", str(args.seed), "--output", str(output), "--json",
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    summary = json.loads(result.stdout)
    trials = json.loads(subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "trials", "--output", str(output), "--json"],
        capture_output=True, text=True, check=True).stdout)
    training = sum(t["train_seconds"] or 0 for t in trials)
    nodes = node_seconds(output / "metadata.sqlite")
    return {
        "trainers": trainers,
        "trials_per_trainer": trials_per_trainer,
        "trials": len(trials),
        "wall_seconds": round(wall, 1),
        "training_seconds_sum": round(training, 1),
        "chosen": summary["chosen"],
        "chosen_test": summary["chosen_metrics"]["test"],
        "node_seconds": nodes,
        "nodes_seconds_sum": round(sum(nodes.values()), 1),
    }


def node_seconds(metadata_path: Path) -> dict[str, float]:
    """Seconds per kind of pipeline node (summed over its nodes), from ML
    Metadata's execution timestamps."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))
    types = {t.id: t.name for t in store.get_execution_types()}
    result: dict[str, float] = {}
    for execution in store.get_executions():
        name = types.get(execution.type_id, "?").rsplit(".", 1)[-1]
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
        result[name] = round(result.get(name, 0.0) + seconds, 2)
    return result


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist1d")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trials-per-trainer", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--distill-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/fanout.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fanout-"))
    try:
        serial = run_study(args, 1, 2 * args.trials_per_trainer, scratch / "n1")
        parallel = run_study(args, 2, args.trials_per_trainer, scratch / "n2")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # Serially, wall time = node time + orchestration (TFX start-up, launching, ML Metadata).
    serial["orchestration_share"] = round(1 - serial["nodes_seconds_sum"] / serial["wall_seconds"], 3)
    serial["outside_trial_training_share"] = round(1 - serial["training_seconds_sum"] / serial["wall_seconds"], 3)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "dataset": args.dataset,
        "rounds": args.rounds,
        "epochs": args.epochs,
        "n1": serial,
        "n2": parallel,
        "speedup_n2_over_n1": round(serial["wall_seconds"] / parallel["wall_seconds"], 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
