"""Wall time of each test tier (docs/testing.md): one pytest process per tier.

    .venv/bin/python benchmarks/test_tiers.py                       # every tier, one after another
    .venv/bin/python benchmarks/test_tiers.py --tiers unit          # some tiers, merged into the file
    .venv/bin/python benchmarks/test_tiers.py --from-raw            # only re-render the table

Each tier runs as `python -m pytest -m MARKERS -p no:cacheprovider -q` in the
repository. What it records per tier - the command, wall seconds, pytest's own
seconds, the CPU seconds of the pytest process and its children, the counts
(passed, failed, skipped, deselected, ...), the date, commit, machine, threads
and the load average around the run - goes into
benchmarks/results/test_tiers.json, replacing that tier's earlier entry and
keeping the others; the table in docs/testing.md (between the test-tiers
markers) is then rendered from the whole file. A machine busy with other work
inflates the wall time, not much the CPU time: the load average says which it was.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_run  # noqa: E402 - benchmarks/ is not a package

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "benchmarks" / "results" / "test_tiers.json"
DOC = REPO / "docs" / "testing.md"
# The pytest marker expression of each tier, in the order they are run and shown.
TIERS = {
    "unit": "not e2e and not integration and not slow",
    "unit-slow": "slow and not e2e and not integration",
    "integration": "integration and not e2e",
    "e2e": "e2e and not bench",
    "bench": "bench",
}
MAKE_TARGETS = {"unit": "make test-fast", "unit-slow": "make test", "integration": "make test-integration", "e2e": "make test-e2e",
                "bench": "make test-bench"}
BEGIN = "<!-- test-tiers:begin - rendered by `benchmarks/test_tiers.py --from-raw`; do not edit by hand -->"
END = "<!-- test-tiers:end -->"
WHAT = ("wall time of each test tier, one pytest process per tier (benchmarks/test_tiers.py); the latest measurement "
        "of each tier; the tests are seeded, no figure here is an accuracy")


# The tiers whose make targets run on pytest-xdist workers (Makefile: XDIST).
XDIST = {"integration": ["-n", "auto", "--dist", "loadfile", "--no-loadscope-reorder"]}
XDIST["e2e"] = XDIST["integration"]


def command_for(tier: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-m", TIERS[tier], *XDIST.get(tier, []), "-p", "no:cacheprovider", "-q"]


def parse_summary(output: str) -> tuple[str, dict[str, int], float | None]:
    """pytest's last summary line ('388 passed, 109 deselected in 75.20s (0:01:15)'):
    the line, the counts by outcome and pytest's seconds."""
    pattern = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+)(?: in ([\d.]+)s)?.*$")
    for line in reversed(output.strip().splitlines()):
        match = pattern.match(line.strip())
        if match:
            counts: dict[str, int] = {}
            for number, outcome in re.findall(r"(\d+) ([a-z]+)", match.group(1)):
                outcome = {"error": "errors", "warning": "warnings"}.get(outcome, outcome)
                counts[outcome] = counts.get(outcome, 0) + int(number)
            return line.strip(" ="), counts, float(match.group(2)) if match.group(2) else None
    return "", {}, None


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} (working tree with changes)" if git("status", "--porcelain", "--untracked-files=no") else commit


def measure(tier: str, note: str = "") -> dict:
    command = command_for(tier)
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()[0]
    summary, counts, pytest_seconds = parse_summary(done.stdout)
    entry = {
        "tier": tier,
        "markers": TIERS[tier],
        "command": " ".join(["python", *map(shlex.quote, command[1:])]),
        "exit_code": done.returncode,
        "seconds": round(seconds, 1),
        "pytest_seconds": pytest_seconds,
        # User + system time of pytest and every process it waited for (workers, subprocesses).
        "cpu_seconds": round(cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime, 1),
        "counts": counts,
        "summary": summary,
        "date": datetime.date.today().isoformat(),
        "commit": git_commit(),
        "machine": study_run.machine(),
        # TensorFlow's default: one intra-op thread per core (the suite sets no other).
        "threads": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
    }
    if note:
        entry["note"] = note
    if done.returncode != 0:
        entry["output_tail"] = (done.stdout + done.stderr)[-3000:]
    return entry


def merge(raw: dict, entries: list[dict]) -> dict:
    tiers = dict(raw.get("tiers", {}))
    for entry in entries:
        tiers[entry["tier"]] = entry
    return {"what": WHAT, "tiers": {name: tiers[name] for name in [*TIERS, *sorted(set(tiers) - set(TIERS))]
                                    if name in tiers}}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def render_table(raw: dict) -> str:
    """The markdown table of docs/testing.md: every tier, measured or not yet."""
    lines = ["| tier | run it | tests | wall time | CPU time | measured |", "|---|---|---|---|---|---|"]
    measured = raw.get("tiers", {})
    for tier in [*TIERS, *[t for t in measured if t not in TIERS]]:
        run = f"`{MAKE_TARGETS[tier]}`" if tier in MAKE_TARGETS else ""
        entry = measured.get(tier)
        if entry is None:
            lines.append(f"| {tier} | {run} | | not measured yet | | |")
            continue
        counts = entry.get("counts", {})
        tests = ", ".join(f"{n} {outcome}" for outcome, n in counts.items()
                          if outcome not in ("deselected", "warnings"))
        load = entry.get("load_average_1min", {})
        when = (f"{entry['date']}, commit {entry['commit']}; {entry['machine']}, {entry['threads']} threads; "
                f"load average {load.get('before')} before, {load.get('after')} after")
        if entry.get("note"):
            when += f"; {entry['note']}"
        if entry.get("exit_code"):
            when += f"; exit status {entry['exit_code']}"
        lines.append(f"| {tier} | {run} | {tests or '-'} | {_duration(entry.get('seconds'))} | "
                     f"{_duration(entry.get('cpu_seconds'))} | {when} |")
    return "\n".join(lines) + "\n"


def write_table(doc: Path, table: str) -> None:
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiers", nargs="+", choices=list(TIERS), default=list(TIERS), help="default: every tier")
    parser.add_argument("--from-raw", action="store_true", help="only render the table from the file, run nothing")
    parser.add_argument("--note", default="", help="a remark kept with these measurements (e.g. what else ran)")
    parser.add_argument("--raw", type=Path, default=RAW)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    raw = json.loads(args.raw.read_text()) if args.raw.exists() else {}
    if not args.from_raw:
        entries = []
        for tier in args.tiers:
            print(f"{tier}: {' '.join(command_for(tier)[1:])}", file=sys.stderr, flush=True)
            entries.append(measure(tier, args.note))
            print(f"{tier}: {entries[-1]['summary']} ({entries[-1]['seconds']} s wall)", file=sys.stderr, flush=True)
        raw = merge(raw, entries)
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        args.raw.write_text(json.dumps(raw, indent=1) + "\n")
    table = render_table(raw)
    write_table(args.doc, table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
