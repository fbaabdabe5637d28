"""Data at scale (issue 32): ingest and one trial from 10 K to 10 M rows,
against TFX's own ExampleGen and plain Keras.

Data (data_scale_data.py, seeded, written chunk by chunk): numeric CSVs of
N rows x 30 features and a 5-class `label`, the same rows as gzipped
TFRecords of tf.Example, and a folder of small PNG images (one sub-folder
per class). For each size and source:

- ours: `model-search run --data FILE --label label --rounds 1 --trainers 1
  --trials-per-trainer 1 --epochs 1 --output DIR --json`, measured by
  study_run.run_measured (memory of the whole process tree every
  `--sample-interval` seconds, node intervals from ML Metadata): the
  DataIngest node's wall seconds and the peak memory sampled within it; the
  run's wall time and peak; the trial's `train_seconds` (1 epoch) and the
  peak within the TrialTrainer node;
- TFX's ExampleGen on the same files (CsvExampleGen for the CSV,
  ImportExampleGen for the TFRecords; data_scale_example_gen.py), a one-node
  pipeline under LocalDagRunner with the default Beam arguments, in a fresh
  subprocess measured the same way, up to `--peer-max-rows`;
- Keras (data_scale_keras.py, a fresh subprocess): the trial's model, rebuilt
  from its record, trained one `fit` epoch on in-memory arrays of the same
  train split at the trial's batch size.

    nice -n 10 .venv/bin/python benchmarks/data_scale.py --workdir /var/tmp/data-scale   # the full run
    .venv/bin/python benchmarks/data_scale.py --rows 10000 100000 --images 2000 --out /tmp/data_scale --plot /tmp/ds.png

Generated data stays in `--workdir` (about 7 GB at the full sizes) and is
reused by the next invocation; each run's output directory is removed once
measured. Writes OUT.json (raw: commands, seed, machine, threads, commit,
every measurement), OUT.md (the tables, from the JSON alone) after every
measurement, and the plot (`--plot`: rows -> seconds and rows -> peak
memory, log-log). A measurement taken again replaces the earlier one of the
same source and size; the others are kept, so sizes can be measured in
separate sittings. `--report-only` re-renders OUT.md and the plot from OUT.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data_scale_data  # noqa: E402 - benchmarks/ is not a package
import study_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
SOURCES = ("csv", "tfrecord", "images")
# One trial of one epoch, and a student of one epoch: the Distiller's default
# 5 epochs would take most of a 10 M-row run, and this benchmark is about
# reading the data, not about the student.
SEARCH_ARGS = ["--rounds", "1", "--trainers", "1", "--trials-per-trainer", "1", "--epochs", "1",
               "--distill-epochs", "1"]
PRODUCT_COMMAND = ("model-search run --data FILE --label label " + " ".join(SEARCH_ARGS) + " --output DIR --json")
# What entries measured before PRODUCT_COMMAND was recorded per entry ran.
EARLIER_PRODUCT_COMMAND = PRODUCT_COMMAND.replace(" --distill-epochs 1", "")
PEER_COMPONENT = {"csv": "CsvExampleGen", "tfrecord": "ImportExampleGen"}
# Issue 32's targets.
TRAINER_FLAT_RATIO = 1.2
KERAS_EPOCH_RATIO = 1.2
GROWTH_1M_TO_10M_MIB = 1024


# --- measuring ---------------------------------------------------------------------------------
def artifact_uris(metadata_path: Path) -> dict[str, str]:
    """URI of each artifact type's (only) artifact in a fresh run's ML Metadata."""
    from ml_metadata import metadata_store
    from tfx.orchestration import metadata

    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))
    return {type_.name: artifact.uri for type_ in store.get_artifact_types()
            for artifact in store.get_artifacts_by_type(type_.name)}


def keras_baseline(uris: dict[str, str], trial: dict, scratch: Path, interval: float) -> dict:
    trial_file = scratch / "trial.json"
    trial_file.write_text(json.dumps(trial))
    stdout, _, sampler, wall = study_run.measured_process(
        [sys.executable, str(HERE / "data_scale_keras.py"), uris["Examples"], uris["components.DatasetSpec"],
         str(trial_file)], interval, cwd=ROOT)
    return {**json.loads(stdout.strip().splitlines()[-1]), "wall_seconds": round(wall, 1),
            "peak_mib": study_run.memory_report(sampler.samples)["peak_mib"]}


def measure_ours(source: str, data: str, run_dir: Path, interval: float) -> dict:
    """One measured `model-search run` on `data`, then the Keras baseline on its train split."""
    label = [] if source == "images" else ["--label", data_scale_data.LABEL]
    run = study_run.run_measured(["--data", data, *label, *SEARCH_ARGS], run_dir, sample_interval=interval)
    nodes, memory = run["nodes"], run["memory"]
    (trial,) = run["trials"]
    uris = artifact_uris(run_dir / "metadata.sqlite")
    ours = {
        "wall_seconds": run["wall_seconds"],
        "ingest_seconds": round(sum(n["end"] - n["start"] for n in nodes if n["node"] == "DataIngest"), 1),
        "ingest_peak_mib": memory["peak_mib_by_node"].get("DataIngest"),
        "run_peak_mib": memory["peak_mib"],
        "train_seconds": trial["train_seconds"],
        # Keras' training steps alone (the trainer's record; absent before ed88506).
        "epoch_seconds": trial.get("epoch_seconds"),
        "trainer_seconds": round(sum(n["end"] - n["start"] for n in nodes if n["node"] == "TrialTrainer"), 1),
        "trainer_peak_mib": memory["peak_mib_by_node"].get("TrialTrainer"),
        "peak_mib_by_node": memory["peak_mib_by_node"],
        "trial": {"trial_id": trial["trial_id"], "status": trial["status"], "architecture": trial["architecture"],
                  "batch_size": trial["hparams"]["batch_size"], "num_params": trial["num_params"],
                  "epochs": trial["epochs"], "eval_accuracy": (trial.get("metrics") or {}).get("accuracy")},
        "time": run["time"]["seconds"], "node_seconds": run["time"]["node_seconds"],
        "memory_samples": memory["samples"], "worker_replacements": memory["worker_replacements"],
    }
    keras = keras_baseline(uris, trial, run_dir.parent, interval)
    return {"ours": ours, "keras": keras}


def measure_example_gen(source: str, folder: Path, root: Path, interval: float) -> dict:
    component = PEER_COMPONENT[source]
    _, _, sampler, wall = study_run.measured_process(
        [sys.executable, str(HERE / "data_scale_example_gen.py"), source, str(folder), str(root)], interval, cwd=ROOT)
    intervals = [(n["start"], n["end"]) for n in study_run.node_intervals(root / "metadata.sqlite")
                 if n["node"] == component]
    return {"component": component, "wall_seconds": round(wall, 1),
            "node_seconds": round(sum(end - start for start, end in intervals), 1),
            "peak_mib": study_run.memory_report(sampler.samples)["peak_mib"],
            "node_peak_mib": study_run.peak_within(sampler.samples, sampler.started_wall, intervals)}


def folder_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate(source: str, size: int, workdir: Path, seed: int) -> tuple[str, Path, dict]:
    """(the `--data` argument, the folder ExampleGen reads, facts about the data)."""
    started = time.monotonic()
    if source == "csv":
        file = data_scale_data.csv_file(workdir / "data", size, seed)
        data, folder = str(file), file.parent
    elif source == "tfrecord":
        folder = data_scale_data.tfrecord_folder(workdir / "data", size, seed)
        data = data_scale_data.tfrecord_pattern(folder)
    else:
        folder = data_scale_data.image_folder(workdir / "data", size, seed)
        data = str(folder)
    return data, folder, {"bytes": folder_bytes(folder), "generate_seconds": round(time.monotonic() - started, 1)}


def measure(source: str, size: int, workdir: Path, args) -> dict:
    data, folder, facts = generate(source, size, workdir, args.seed)
    runs = workdir / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    try:
        started = time.monotonic()
        entry = {"source": source, "size": size, "unit": "images" if source == "images" else "rows", "data": facts,
                 "product_command": PRODUCT_COMMAND,
                 **measure_ours(source, data, runs / "ours", args.sample_interval)}
        entry["ours_and_keras_seconds"] = round(time.monotonic() - started, 1)
        if source in PEER_COMPONENT and size <= args.peer_max_rows:
            entry["example_gen"] = measure_example_gen(source, folder, runs / "example_gen", args.sample_interval)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    entry["commit"] = study_run.git_commit()
    entry["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return entry


# --- the report (a pure function of the JSON) ------------------------------------------------------
def _entries(report: dict, source: str) -> dict[int, dict]:
    return {m["size"]: m for m in report["measurements"] if m["source"] == source}


def _number(value, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a, b) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def _growth(entries: dict[int, dict], low: int, high: int, peak) -> Optional[float]:
    if low not in entries or high not in entries:
        return None
    a, b = peak(entries[low]), peak(entries[high])
    return None if a is None or b is None else b - a


def _peer_peak(entry: dict) -> Optional[float]:
    """ExampleGen's peak within its node (the whole process's when no sample fell inside)."""
    peer = entry.get("example_gen") or {}
    return peer.get("node_peak_mib") or peer.get("peak_mib")


def _epoch_ratio(entry: dict) -> tuple[Optional[float], str]:
    """The trial's epoch (its training steps) over Keras' `fit` epoch; from
    runs that did not time epochs apart, the whole trial over Keras' fit +
    scoring, said so."""
    ours, keras = entry["ours"], entry["keras"]
    if ours.get("epoch_seconds"):
        return ours["epoch_seconds"][0] / keras["fit_seconds"], ""
    return ours["train_seconds"] / keras["trial_equivalent_seconds"], " (whole trial: epochs not timed apart)"


def targets(report: dict) -> list[tuple[str, str, Optional[bool]]]:
    """(target, what was measured, met: True / False / None when not measured)."""
    checks = []
    for source in PEER_COMPONENT:
        entries = _entries(report, source)
        compared = [m for m in entries.values() if m.get("example_gen")]
        if compared:
            slower = [m["size"] for m in compared if m["ours"]["ingest_seconds"] > m["example_gen"]["node_seconds"]]
            checks.append((f"{source}: ingest no slower than {PEER_COMPONENT[source]} at every size compared",
                           ", ".join(f"{m['size']:,}: {_ratio(m['ours']['ingest_seconds'], m['example_gen']['node_seconds'])}x"
                                     for m in sorted(compared, key=lambda m: m["size"])), not slower))
        ours = _growth(entries, 100_000, 1_000_000, lambda m: m["ours"]["ingest_peak_mib"])
        peer = _growth(entries, 100_000, 1_000_000, _peer_peak)
        checks.append((f"{source}: ingest peak growth 100K -> 1M rows no larger than {PEER_COMPONENT[source]}'s",
                       f"ours {_number(ours)} MiB, ExampleGen {_number(peer)} MiB",
                       None if ours is None or peer is None else ours <= peer))
        growth = _growth(entries, 1_000_000, 10_000_000, lambda m: m["ours"]["run_peak_mib"])
        checks.append((f"{source}: run peak growth 1M -> 10M rows under {GROWTH_1M_TO_10M_MIB} MiB",
                       f"{_number(growth)} MiB", None if growth is None else growth < GROWTH_1M_TO_10M_MIB))
        low, high = entries.get(100_000), entries.get(10_000_000)
        flat = (high["ours"]["trainer_peak_mib"] / low["ours"]["trainer_peak_mib"]
                if low and high and low["ours"]["trainer_peak_mib"] and high["ours"]["trainer_peak_mib"] else None)
        checks.append((f"{source}: trainer peak at 10M rows within {TRAINER_FLAT_RATIO}x of 100K",
                       "-" if flat is None else f"{flat:.2f}x", None if flat is None else flat <= TRAINER_FLAT_RATIO))
        million = entries.get(1_000_000)
        ratio, how = _epoch_ratio(million) if million else (None, "")
        checks.append((f"{source}: the 1M-row trial's epoch within {KERAS_EPOCH_RATIO}x of a Keras `fit` epoch "
                       "on in-memory arrays", "-" if ratio is None else f"{ratio:.2f}x{how}",
                       None if ratio is None else ratio <= KERAS_EPOCH_RATIO))
        checks.append((f"{source}: the 10M-row run completes", "yes" if high else "not measured", True if high else None))
    return checks


def _other_commands(report: dict) -> list[str]:
    """A line per product command other than the report's, naming the entries it measured."""
    by_command: dict[str, list[str]] = {}
    for m in sorted(report["measurements"], key=lambda m: (SOURCES.index(m["source"]), m["size"])):
        command = m.get("product_command", EARLIER_PRODUCT_COMMAND)
        if command != report["product_command"]:
            by_command.setdefault(command, []).append(f"{m['source']} {m['size']:,}")
    return [f"Measured with `{command}`: {', '.join(names)} (the Distiller's epochs change the run's wall time, "
            "not the ingest or the trial).\n" for command, names in by_command.items()]


def markdown(report: dict) -> str:
    lines = [
        "# Data at scale: ingest and one trial, 10 K to 10 M rows", "",
        f"`{report['product_command']}` on numeric CSVs ({data_scale_data.FEATURES} features, "
        f"{data_scale_data.CLASSES} classes), the same rows as gzipped TFRecords, and a folder of PNG images; "
        f"TFX's ExampleGen on the same files up to {report['peer_max_rows']:,} rows; seed {report['seed']}. "
        f"{report['machine']}, {report['threads']} threads (TensorFlow's and Beam's defaults); "
        f"{report['date']}, commit {report['commit']}. Memory: resident memory of the whole process tree, "
        f"sampled every {report['sample_interval']} s; a node's peak is the largest sample within it.", "",
        *_other_commands(report), "## Ingest", "",
        "| source | rows | data MB | ingest s | ExampleGen s | ours / ExampleGen | ingest peak MiB | "
        "ExampleGen peak MiB | run wall s | run peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(report["measurements"], key=lambda m: (SOURCES.index(m["source"]), m["size"]))
    for m in ordered:
        ours, peer = m["ours"], m.get("example_gen") or {}
        lines.append(f"| {m['source']} | {m['size']:,}{'' if m['unit'] == 'rows' else ' ' + m['unit']} | "
                     f"{m['data']['bytes'] / 1e6:,.1f} | {_number(ours['ingest_seconds'], 1)} | "
                     f"{_number(peer.get('node_seconds'), 1)} | {_ratio(ours['ingest_seconds'], peer.get('node_seconds'))} | "
                     f"{_number(ours['ingest_peak_mib'])} | {_number(_peer_peak(m) if peer else None)} | "
                     f"{_number(ours['wall_seconds'])} | {_number(ours['run_peak_mib'])} |")
    lines += ["", "Ingest s: the DataIngest node's interval in ML Metadata (ExampleGen's: its node's). "
              "ExampleGen writes train and eval (2:1); ours train, eval and test (0.8/0.1/0.1) and the dataset spec.",
              "", "## One trial: memory, and its epoch against Keras on in-memory arrays", "",
              "| source | rows | trainer peak MiB | trainer s | batch | trial epoch s | Keras fit epoch s | "
              "epoch / Keras | trial train s | Keras fit + scoring s | trial / Keras | Keras peak MiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in ordered:
        ours, keras = m["ours"], m["keras"]
        epoch = ours["epoch_seconds"][0] if ours.get("epoch_seconds") else None
        lines.append(f"| {m['source']} | {m['size']:,} | {_number(ours['trainer_peak_mib'])} | "
                     f"{_number(ours['trainer_seconds'], 1)} | {ours['trial']['batch_size']} | "
                     f"{_number(epoch, 1)} | {_number(keras['fit_seconds'], 1)} | {_ratio(epoch, keras['fit_seconds'])} | "
                     f"{_number(ours['train_seconds'], 1)} | {_number(keras['trial_equivalent_seconds'], 1)} | "
                     f"{_ratio(ours['train_seconds'], keras['trial_equivalent_seconds'])} | {_number(keras['peak_mib'])} |")
    lines += ["", "Trial epoch s: the trial's epoch in Keras' training steps, its validation pass left out "
              "(`epoch_seconds`; '-' for runs before it was recorded), against Keras' `fit` epoch. "
              "Trial train s: the trial's `train_seconds` (reading the split into memory, building the model, "
              "1 epoch with validation, evaluation and predictions on eval). Keras: the same model rebuilt from the trial's record, one "
              "`fit` epoch on NumPy arrays of the same train split at the same batch size, plus the same scoring "
              "on eval (a validation pass, `evaluate`, `predict`); its data loading is not counted.",
              "", "## Targets (issue 32)", "", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(report):
        lines.append(f"| {name} | {measured} | {'not measured' if met is None else 'yes' if met else 'no'} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    """Rows -> seconds and rows -> peak memory, log-log, for the tabular sources."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (seconds_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for source, style in (("csv", "-"), ("tfrecord", "--")):
        entries = sorted(_entries(report, source).values(), key=lambda m: m["size"])
        if not entries:
            continue
        sizes = [m["size"] for m in entries]
        seconds_axis.plot(sizes, [m["ours"]["ingest_seconds"] for m in entries], "o" + style, color="C0",
                          label=f"ours ingest, {source}")
        seconds_axis.plot(sizes, [m["ours"]["train_seconds"] for m in entries], "s" + style, color="C2",
                          label=f"ours trial (1 epoch), {source}")
        memory_axis.plot(sizes, [m["ours"]["ingest_peak_mib"] for m in entries], "o" + style, color="C0",
                         label=f"ours ingest, {source}")
        memory_axis.plot(sizes, [m["ours"]["trainer_peak_mib"] for m in entries], "s" + style, color="C2",
                         label=f"ours trainer, {source}")
        peers = [m for m in entries if m.get("example_gen")]
        if peers:
            peer_sizes = [m["size"] for m in peers]
            seconds_axis.plot(peer_sizes, [m["example_gen"]["node_seconds"] for m in peers], "^" + style, color="C3",
                              label=PEER_COMPONENT[source])
            memory_axis.plot(peer_sizes, [_peer_peak(m) for m in peers], "^" + style, color="C3",
                             label=PEER_COMPONENT[source])
    for axis, title in ((seconds_axis, "wall seconds"), (memory_axis, "peak MiB (process tree)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("rows")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"Data at scale, {report['machine']}, commit {report['commit']}", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- the command line ---------------------------------------------------------------------------
def merged(out: str, measurements: list[dict]) -> list[dict]:
    """This invocation's measurements and the earlier ones of OUT.json that it did not take again."""
    existing = Path(out).with_suffix(".json")
    earlier = json.loads(existing.read_text())["measurements"] if existing.exists() else []
    taken = {(m["source"], m["size"]) for m in measurements}
    return [m for m in earlier if (m["source"], m["size"]) not in taken] + measurements


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=list(SIZES), help="CSV / TFRecord sizes")
    parser.add_argument("--images", type=int, default=20_000, help="images in the folder (0: none)")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    parser.add_argument("--peer-max-rows", type=int, default=1_000_000, help="largest size ExampleGen runs on")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--workdir", type=Path, help="generated data (reused) and runs; unset: a temporary folder")
    parser.add_argument("--out", default="benchmarks/results/data_scale", help="path without extension")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "data_scale.png",
                        help="the plot's file (rows -> seconds, rows -> peak memory)")
    parser.add_argument("--report-only", action="store_true", help="rewrite OUT.md and the plot from OUT.json")
    args = parser.parse_args(argv)
    if args.report_only:
        study_run.rerender(args.out, markdown)
        plot(json.loads(Path(args.out).with_suffix(".json").read_text()), args.plot)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The measured processes import this tree's code, whatever the venv's install points at.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    work = [(source, size) for source in args.sources if source != "images" for size in sorted(args.rows)]
    if "images" in args.sources and args.images:
        work.append(("images", args.images))
    scratch = None if args.workdir else tempfile.TemporaryDirectory(prefix="data-scale-")
    workdir = args.workdir or Path(scratch.name)
    measurements: list[dict] = []
    try:
        # Size by size, both sources of a size in turn, so ours and the peers see a like load.
        for source, size in sorted(work, key=lambda w: (w[0] == "images", w[1], SOURCES.index(w[0]))):
            measurements.append(measure(source, size, workdir, args))
            report = {
                "benchmark_command": "benchmarks/data_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                "product_command": PRODUCT_COMMAND, "seed": args.seed, "machine": study_run.machine(),
                "threads": os.cpu_count(), "commit": study_run.git_commit(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "sample_interval": args.sample_interval, "peer_max_rows": args.peer_max_rows,
                "measurements": merged(args.out, measurements),
            }
            study_run.write_report(args.out, report, markdown(report))
        if measurements:
            plot(report, args.plot)
    finally:
        if scratch:
            scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
