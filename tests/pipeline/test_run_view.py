"""The live view of a run (pipeline/run_view.py): when it is on, what it shows
for a given state of the run, and where the log lines go meanwhile."""

from __future__ import annotations

import io
import logging
import pathlib
import types

import pytest

from components.study_record import StudyRecord
from pipeline import run_view
from pipeline.cli import build_parser
from search_algo.architecture import Architecture
from search_algo.trial import Trial


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize("tty, json_output, quiet, debug, wanted", [
    (True, False, False, False, True),
    (False, False, False, False, False),
    (True, True, False, False, False),
    (True, False, True, False, False),
    (True, False, False, True, False),
], ids=["a terminal", "not a terminal", "--json", "--quiet", "--debug"])
def test_the_view_is_on_only_on_a_terminal_without_json_quiet_or_debug(tty, json_output, quiet, debug, wanted):
    assert run_view.view_wanted(Stream(tty), json_output=json_output, quiet=quiet, debug=debug) is wanted


def test_run_takes_quiet():
    args = build_parser().parse_args(["run", "--dataset", "digits", "--quiet"])
    assert args.quiet is True
    assert build_parser().parse_args(["run", "--dataset", "digits"]).quiet is False


CONFIG = types.SimpleNamespace(study_name="mnist1d", rounds=3, trainers=2, trials_per_trainer=2, objective="accuracy")


def trial(trial_id: str, accuracy: float | None, run_id: str = "run2") -> Trial:
    return Trial(trial_id, int(trial_id.split("-r")[1][0]), 0, Architecture.from_dict({"blocks": [{"name": "dense"}]}),
                 seed=0, algorithm="beam", run_id=run_id, study="mnist1d",
                 status="completed" if accuracy is not None else "failed",
                 metrics={"accuracy": accuracy, "log_loss": 0.1} if accuracy is not None else {})


def shown(view: run_view.RunView) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    console.print(view)
    return console.file.getvalue()


def test_what_the_view_shows_for_a_run_in_its_second_round(monkeypatch):
    clock = iter([1000.0, 1000.0 + 3725])
    monkeypatch.setattr(run_view.time, "monotonic", lambda: next(clock))
    view = run_view.RunView(CONFIG, "run2")
    for node in ("Trainer_r1_t0", "Trainer_r1_t1", "Trainer_r2_t0", "Trainer_r2_t1"):
        view.node_started(node)
    view.node_finished("Trainer_r1_t0")
    view.node_finished("Trainer_r1_t1")
    view.add_trials([trial("run2-r1-00", 0.91), trial("run2-r1-01", 0.95), trial("run2-r1-02", None),
                     trial("run2-r1-03", 0.93), trial("run2-r2-00", 0.94),
                     trial("run1-r1-00", 0.99, run_id="run1")])  # an earlier run's: not this run's best
    text = shown(view)
    assert "mnist1d run2  round 2/3 trainer 1/2, round 2/3 trainer 2/2" in text
    assert "rounds" in text and "1/3" in text
    assert "trials" in text and "5/12" in text
    assert "running 2 trials" in text and "failed 1" in text
    assert "best accuracy 0.9500 (run2-r1-01)" in text
    assert "elapsed 1:02:05" in text
    assert "left" not in text, "no time budget, no time left"


def test_under_a_time_budget_the_view_shows_the_time_left(monkeypatch):
    clock = iter([0.0, 90.0])
    wall = iter([5000.0, 5090.0])
    monkeypatch.setattr(run_view.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(run_view.time, "time", lambda: next(wall))
    view = run_view.RunView(CONFIG, "run1", time_budget=600)
    text = shown(view)
    assert "elapsed 0:01:30" in text and "left 0:08:30" in text
    assert "best -" in text and "running 0 trials" in text and "0/12" in text and "waiting" in text


def test_a_resumed_run_shows_the_time_left_since_its_first_attempt(monkeypatch):
    """The search's deadline counts from the first attempt's start; so does
    the view's "left", while "elapsed" is this command's."""
    clock = iter([0.0, 60.0, 0.0, 0.0])
    monkeypatch.setattr(run_view.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(run_view.time, "time", lambda: 10_000.0)
    view = run_view.RunView(CONFIG, "run1", time_budget=600, budget_started_at=10_000.0 - 400)
    text = shown(view)
    assert "elapsed 0:01:00" in text and "left 0:03:20" in text
    assert view.time_left() == pytest.approx(200.0)
    over = run_view.RunView(CONFIG, "run1", time_budget=600, budget_started_at=10_000.0 - 900)
    assert over.time_left() == pytest.approx(-300.0) and "left 0:00:00" in shown(over)


def test_the_view_follows_the_trials_as_the_study_record_gets_them(ram_root):
    record = StudyRecord.of(f"{ram_root}/root", "mnist1d")
    view = run_view.RunView(CONFIG, "run2", record=record)
    view.poll()
    assert "0/12" in shown(view)
    record.add_trial(trial("run2-r1-00", 0.5))
    record.add_trial(trial("run2-r1-01", None))
    view.poll()
    view.poll()
    text = shown(view)
    assert "2/12" in text and "failed 1" in text and "best accuracy 0.5000 (run2-r1-00)" in text


def test_a_live_view_draws_on_its_console_and_stops(ram_root, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(run_view, "POLL_SECONDS", 0.01)
    record = StudyRecord.of(f"{ram_root}/root", "mnist1d")
    record.add_trial(trial("run2-r1-00", 0.75))
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    with run_view.RunView(CONFIG, "run2", record=record, live=True, console=console) as view:
        view.node_started("Trainer_r1_t0")
    assert "best accuracy 0.7500 (run2-r1-00)" in console.file.getvalue()
    quiet = Console(file=io.StringIO(), force_terminal=True, width=100)
    with run_view.RunView(CONFIG, "run2", record=record, live=False, console=quiet):
        pass
    assert quiet.file.getvalue() == "", "a view that is off draws nothing"


def test_log_lines_go_to_the_file_and_warnings_stay_on_the_terminal(tmp_path, monkeypatch):
    terminal = io.StringIO()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    logger = logging.getLogger("pipeline.test_run_view")
    monkeypatch.setattr(logger, "level", logging.INFO)
    log_file = tmp_path / "run.log"
    with run_view.logs_to_file(str(log_file)):
        logger.info("trial run1-r1-00: accuracy 0.9")
        logger.warning("a trial failed")
        assert run_view.os.environ[run_view.LOG_FILE_ENV] == str(log_file)
    logger.info("after the run")
    assert run_view.LOG_FILE_ENV not in run_view.os.environ
    assert "trial run1-r1-00: accuracy 0.9" in log_file.read_text() and "a trial failed" in log_file.read_text()
    assert terminal.getvalue() == "a trial failed\nafter the run\n"
    assert root.handlers == [handler]
    with run_view.logs_to_file(None):
        logger.info("no file")
    assert terminal.getvalue().endswith("no file\n")


def test_a_worker_sends_its_output_to_the_log_file_only_under_the_view(tmp_path):
    import os
    import subprocess
    import sys

    worker = ("import sys; from pipeline import run_view; run_view.send_worker_output_to_log_file(); "
              "print('a printed line'); print('INFO: trial done', file=sys.stderr)")
    log_file = tmp_path / "run.log"
    log_file.write_text("earlier line\n")
    environment = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[2]), run_view.LOG_FILE_ENV: str(log_file)}
    done = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True, env=environment, check=True)
    assert (done.stdout, done.stderr) == ("", "")
    assert log_file.read_text() == "earlier line\na printed line\nINFO: trial done\n"
    del environment[run_view.LOG_FILE_ENV]
    done = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True, env=environment, check=True)
    assert (done.stdout, done.stderr) == ("a printed line\n", "INFO: trial done\n")
