"""Runs a benchmark script as a user would, for the bench tier's tiny runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(script: str, *argv: str) -> None:
    """`benchmarks/<script> ARGV` from the repository root; a failure shows its stderr."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *argv], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"benchmarks/{script} failed:\n{done.stderr[-3000:]}"
