"""Concurrent writers to ML Metadata: records lost on SQLite and on MySQL.

Eight processes at once, as eight trainer pods of one round would, each
recording trials the way a trainer's run is recorded: one execution with its
output TrialResults artifact, attributed to the study's context, in one
`put_execution` call. Afterwards the store is read back and the artifacts
counted per writer; lost = written - found. A writer's failed call (e.g.
SQLite's "database is locked") counts as lost: a trainer would lose that
record.

    python benchmarks/metadata_concurrency.py            # SQLite, and MySQL when mariadbd exists
    python benchmarks/metadata_concurrency.py --json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ARTIFACT_TYPE, EXECUTION_TYPE, CONTEXT_TYPE = "components.TrialResults", "TrialTrainer", "pipeline"


def _store(uri: str):
    from ml_metadata import metadata_store

    from pipeline import factory
    from pipeline.config import StudyConfig

    return metadata_store.MetadataStore(factory.metadata_connection_config(StudyConfig(metadata=uri)))


def _writer(uri: str, writer: int, records: int, ready, start, results):
    from ml_metadata.proto import metadata_store_pb2 as mlmd

    store = _store(uri)
    artifact_type = store.put_artifact_type(mlmd.ArtifactType(name=ARTIFACT_TYPE, properties={}))
    execution_type = store.put_execution_type(mlmd.ExecutionType(name=EXECUTION_TYPE))
    context = store.get_context_by_type_and_name(CONTEXT_TYPE, "bench")
    ready.put(writer)
    start.wait()
    errors = 0
    for index in range(records):
        artifact = mlmd.Artifact(type_id=artifact_type, uri=f"/bench/w{writer}/t{index}",
                                 state=mlmd.Artifact.LIVE)
        artifact.custom_properties["writer"].int_value = writer
        artifact.custom_properties["trial"].string_value = f"w{writer}-t{index}"
        execution = mlmd.Execution(type_id=execution_type, last_known_state=mlmd.Execution.COMPLETE)
        event = mlmd.Event(type=mlmd.Event.OUTPUT)
        try:
            store.put_execution(execution, [(artifact, event)], [context])
        except Exception:  # noqa: BLE001 - any failed write is a lost record
            errors += 1
    results.put((writer, errors))


def measure(uri: str, writers: int = 8, records: int = 50) -> dict:
    from ml_metadata.proto import metadata_store_pb2 as mlmd

    store = _store(uri)
    context_type = store.put_context_type(mlmd.ContextType(name=CONTEXT_TYPE))
    store.put_contexts([mlmd.Context(type_id=context_type, name="bench")])
    ctx = multiprocessing.get_context("spawn")
    ready, start, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    processes = [ctx.Process(target=_writer, args=(uri, w, records, ready, start, results)) for w in range(writers)]
    for process in processes:
        process.start()
    for _ in processes:  # every writer imported, connected and ready: time the writes only
        ready.get(timeout=600)
    began = time.monotonic()
    start.set()
    errors = dict(results.get(timeout=600) for _ in processes)
    seconds = time.monotonic() - began
    for process in processes:
        process.join()
    found = {}
    for artifact in store.get_artifacts_by_type(ARTIFACT_TYPE):
        writer = artifact.custom_properties["writer"].int_value
        found[writer] = found.get(writer, 0) + 1
    written = writers * records
    stored = sum(found.values())
    return {"writers": writers, "records_per_writer": records, "written": written, "stored": stored,
            "lost": written - stored, "failed_calls": sum(errors.values()), "seconds": round(seconds, 2),
            "records_per_second": round(stored / seconds, 1) if seconds else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--records", type=int, default=50, help="records per writer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from tests import mariadb

    report = {}
    with tempfile.TemporaryDirectory() as scratch:
        report["sqlite"] = measure(os.path.join(scratch, "metadata.sqlite"), args.writers, args.records)
        if mariadb.find_server():
            with mariadb.mariadb_server(os.path.join(scratch, "mariadb")) as uri:
                report["mysql"] = measure(uri, args.writers, args.records)
        else:
            report["mysql"] = "skipped: mariadbd not installed (bash .ci/install_mariadb.sh)"
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for backend, figures in report.items():
            print(f"{backend}: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
