"""Runs a study's pipeline on this machine and reads its results back from ML Metadata."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Optional

from pipeline import quiet
from search_algo.errors import UserError

log = logging.getLogger(__name__)


def run_study(config, debug: bool = False, show_progress: bool = False, quiet_log: bool = False,
              retry_failed: bool = False, new_run: bool = False,
              started_at: Optional[float] = None) -> dict[str, Any]:
    """Runs the study's next run - or resumes its unfinished one - holding the
    run directory's lock, so one command at a time writes there. With
    `show_progress` a live view on stderr; with it or `quiet_log` the INFO
    lines go to DIR/run.log instead of the terminal (pipeline/run_view.py).
    SIGINT and SIGTERM stop it cleanly (`Stopped`): the next run resumes it.
    `retry_failed` trains the resumed run's failed trials again; `new_run`
    leaves an unfinished run as it is and starts the next. `started_at`
    (epoch seconds; default now) is the command's start: a new run's time
    budget counts from it."""
    from components.interruption import stop_on_signals
    from pipeline.run_lock import run_directory_lock

    output_dir = os.path.abspath(config.output_dir)
    from pipeline import run_view

    log_file = os.path.join(output_dir, run_view.LOG_FILE_NAME) if show_progress or quiet_log else None
    with stop_on_signals(), run_directory_lock(output_dir, "run"), run_view.logs_to_file(log_file):
        return _run_study(config, output_dir, debug, show_progress, retry_failed, new_run,
                          started_at or time.time())


def _run_study(config, output_dir: str, debug: bool, show_progress: bool, retry_failed: bool = False,
               new_run: bool = False, started_at: Optional[float] = None) -> dict[str, Any]:
    started_at = started_at or time.time()
    quiet.quiet_libraries(debug)
    from components.study_record import StudyRecord
    from components.study_history.executor import RUN_STARTED_ENV
    from components.trainer.trial_cache import RETRY_FAILED_ENV
    from pipeline import cleanup, factory, run_view
    from pipeline.parallel_runner import ParallelDagRunner
    from pipeline.study_store import StudyStore

    # Importing Beam just put its deprecation-warning filter in front of ours.
    quiet.quiet_libraries(debug)
    refuse_another_study(config, output_dir)
    connection_config = factory.metadata_connection_config(config)
    record = StudyRecord.of(factory.pipeline_root(output_dir), config.pipeline_name)
    store = StudyStore(connection_config, config.pipeline_name, record=record)
    runs = store.run_ids()
    run_id = store.run_id_for_next_run(new_run=new_run)
    resumed = run_id in runs
    if record.exists():
        # A study's first record is its first trial's (which study a directory holds
        # is read from it), so a first run records its setting at its end only.
        cleanup.record_retention(record, run_id, config.keep)
    # A resumed run's budget counts from its first attempt (the StudyHistory node's stamp).
    budget_started_at = (store.run_started_at(run_id) if resumed else None) or started_at
    view = run_view.start(config, run_id, record, live=show_progress, budget_started_at=budget_started_at)
    try:
        if new_run and runs and runs[-1] not in store.finished_run_ids():
            log.warning("leaving the unfinished run %s as it is (--new-run); starting %s", runs[-1], run_id)
        if retry_failed and not resumed:
            log.info("--retry-failed: %s is a new run, there is nothing to retry", run_id)
        log.info("study %r, %s, into %s", config.study_name, run_id, output_dir)
        # The StudyHistory node stamps the run's start from it (a resumed run's stays the first attempt's).
        os.environ[RUN_STARTED_ENV] = repr(started_at)
        pipeline = factory.create_pipeline(config, run_id, connection_config=connection_config)
        pipeline_ir = _compiled(pipeline, retry_failed=retry_failed and resumed)
        started = time.monotonic()
        if config.runner == "beam":
            from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

            BeamDagRunner().run_with_ir(pipeline_ir)
        else:
            ParallelDagRunner(
                max_workers=config.trainers,
                debug=debug,
                on_node_started=view.node_started,
                on_node_finished=view.node_finished,
                node_timeout=config.node_timeout,
                max_retries=config.max_retries,
                # Each death of a trainer's worker is one attempt of one of its trials.
                trainer_relaunches=config.trials_per_trainer * (config.max_retries + 1),
            ).run_with_ir(pipeline_ir)
    finally:
        view.close()
        os.environ.pop(RETRY_FAILED_ENV, None)
        os.environ.pop(RUN_STARTED_ENV, None)
    seconds = time.monotonic() - started
    # Into leaderboard.json and the report; the summary's are taken again at the very end.
    timing = time_report(config, store, run_id, started_at, time.time())
    summary = collect_results(config, store, run_id, output_dir, seconds, timing=timing)
    # The study's retention setting (`keep`), so that the disk does not only grow;
    # recorded, so that `model-search gc` applies the same.
    cleanup.record_retention(record, run_id, config.keep)
    summary["freed"] = cleanup.after_run(config, output_dir, connection_config)
    summary.update(time_report(config, store, run_id, started_at, time.time()))
    return summary


def time_report(config, store, run_id: str, started_at: float, finished_at: float) -> dict[str, Any]:
    """How this command's time was spent, and the run's time budget: how
    long since the run started (a resumed run's first start) and whether it
    was kept (pipeline/time_spent.py)."""
    from pipeline.time_spent import budget_summary, time_spent
    from search_algo.time_budget import TimeBudget

    trials = [t for t in store.trials() if t.run_id == run_id]
    budget = TimeBudget.of(config.time_budget, store.run_started_at(run_id))
    return {
        "time_spent": time_spent(started_at, finished_at, trials, store.node_intervals(started_at, finished_at)),
        "time_budget": budget_summary(budget, finished_at, trials, config.rounds),
    }


def _compiled(pipeline, retry_failed: bool):
    """The pipeline's IR. To retry failed trials, the trainers run again
    instead of coming from TFX's cache - a trainer whose trials failed finished
    successfully, and its outputs would be reused as they are - and the
    request's id tells them to train their failed trials again (trial cache:
    components/trainer/trial_cache.py); completed trials come back from the
    trial cache, and the nodes after a trainer run on its new outputs."""
    from tfx.dsl.compiler import compiler

    from components.trainer.trial_cache import RETRY_FAILED_ENV

    ir = compiler.Compiler().compile(pipeline)
    if retry_failed:
        for node in ir.nodes:
            if node.pipeline_node.node_info.id.startswith("Trainer_"):
                node.pipeline_node.execution_options.caching_options.enable_cache = False
        os.environ[RETRY_FAILED_ENV] = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    return ir


def refuse_another_study(config, output_dir: str) -> None:
    """A run directory holds one study: its `serving/`, `leaderboard.json` and
    `report.html` have no study in their names, so a second study would
    replace the first one's production model, and `predict --model
    DIR/serving` would serve whichever pushed last. The first study is the one
    whose record is under `DIR/pipeline_root` (written as its first trial ends)."""
    from components import study_record
    from pipeline import factory

    others = [name for name in study_record.studies(factory.pipeline_root(output_dir)) if name != config.pipeline_name]
    if others:
        raise UserError(f"{output_dir} holds study {others[0]!r}, and a run directory holds one study: run "
                        f"study {config.study_name!r} with another --output, or continue {others[0]!r} "
                        f"with --study {others[0]}")


def collect_results(config, store, run_id: str, output_dir: str, seconds: float,
                    timing: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Writes DIR/leaderboard.json (with `timing`, the run's `time_spent` and
    `time_budget`, when given) and DIR/report.html; returns the run's summary."""
    from pipeline import factory
    from search_algo.time_budget import skipped_for_budget

    leaderboard = store.leaderboard(run_id)
    if leaderboard is None:
        raise RuntimeError(f"run {run_id} finished without a leaderboard in ML Metadata")
    validation = store.validation(run_id)
    if validation is not None:
        leaderboard["validation"] = validation
    leaderboard.update({key: value for key, value in (timing or {}).items() if value is not None})
    leaderboard_path = os.path.join(output_dir, "leaderboard.json")
    tmp = f"{leaderboard_path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        json.dump(leaderboard, handle, indent=2)
    os.replace(tmp, leaderboard_path)
    from pipeline import report

    report_path = report.write_report_from_store(output_dir, store, leaderboard)
    trials = [t for t in store.trials() if t.run_id == run_id]
    chosen = next(c for c in leaderboard["candidates"] if c["name"] == leaderboard["chosen"])
    return {
        "output": output_dir,
        "study": config.study_name,
        "run_id": run_id,
        "chosen": leaderboard["chosen"],
        "objective": (leaderboard.get("objective") or {}).get("metric"),
        "chosen_metrics": {"estimate": chosen.get("estimate"), "eval": chosen["eval"], "test": chosen["test"]},
        "chosen_estimated_by": (chosen.get("estimated_by") or {}).get("how"),
        "num_params": chosen["num_params"],
        "leaderboard": leaderboard_path,
        "report": report_path,
        "serving": _newest_push(os.path.join(output_dir, factory.SERVING_DIR)),
        "blessed": (validation or {}).get("blessed"),
        "pushed": (validation or {}).get("pushed"),
        "metadata": factory.metadata_location(config),
        "trials": {
            "total": len(trials),
            "completed": sum(t.completed for t in trials),
            "failed": sum(not t.completed and not skipped_for_budget(t) for t in trials),
            # Proposals not started because the time budget's search time was spent.
            "skipped": sum(skipped_for_budget(t) for t in trials),
        },
        "seconds": round(seconds, 1),
    }


def _newest_push(serving_dir: str) -> Optional[str]:
    if not os.path.isdir(serving_dir):
        return None
    versions = sorted(os.listdir(serving_dir))
    return os.path.join(serving_dir, versions[-1]) if versions else None
