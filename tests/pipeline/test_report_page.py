"""The report page's parts on small hand-made trials: Pareto front, metric direction, escaping."""

from __future__ import annotations

import pytest

from pipeline import report
from pipeline.cli import main
from search_algo.architecture import Architecture
from search_algo.objective import resolve


@pytest.mark.parametrize("command", ("leaderboard", "report", "predict"))
def test_new_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: model-search {command}" in capsys.readouterr().out


def test_pareto_front_keeps_only_undominated_points():
    points = [(100, 0.70, "a"), (200, 0.65, "b"), (300, 0.80, "c"), (300, 0.75, "d"), (50, 0.60, "e"), (400, 0.80, "f")]
    assert [p[2] for p in report.pareto_front(points, report.Metric(resolve(None, "classification")))] == ["e", "a", "c"]
    # Regression: lower RMSE is better.
    assert [p[2] for p in report.pareto_front(points, report.Metric(resolve(None, "regression")))] == ["e"]


def _trial(trial_id, round_, rmse, params, parent=None, algorithm="evolution", status="completed"):
    architecture = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 8, "note": "<i>x</i>"}}]})
    return {
        "trial_id": trial_id, "round": round_, "run_id": "run1", "status": status, "algorithm": algorithm,
        "architecture": ["dense"], "architecture_spec": architecture.to_dict(), "parent": parent,
        "metrics": {"rmse": rmse, "loss": rmse**2} if status == "completed" else {}, "num_params": params,
        "epochs": 1, "train_seconds": 1.0, "error": None if status == "completed" else "NaN loss <b>",
    }


def test_regression_report_ranks_by_lowest_rmse_and_escapes():
    trials = [_trial("run1-r1-00", 1, 3.0, 100), _trial("run1-r1-01", 1, 2.0, 300, algorithm="random"),
              _trial("run1-r2-00", 2, 1.0, 200, parent="run1-r1-00"),
              _trial("run1-r2-01", 2, 0.0, 50, parent="run1-r1-01", status="failed")]
    board = {"chosen": "ensemble", "study": "<b>houses</b>", "run_id": "run1", "task": "regression",
             "candidates": [{"name": "ensemble", "trial_ids": ["run1-r2-00"], "num_params": 200,
                             "eval": {"rmse": 1.0}, "test": {"rmse": 1.1}, "latency_ms": 1.0}]}
    page = report.build_report(board, trials)
    assert "<b>houses</b>" not in page and "&lt;b&gt;houses&lt;/b&gt;" in page
    assert "<i>x</i>" not in page and "NaN loss <b>" not in page
    # The top model is the lowest RMSE among completed trials; the failed one is not plotted.
    diagrams = page.split('<figure class="diagram">')[1:]
    assert diagrams[0].startswith("<figcaption>run1-r2-00 (eval RMSE 1)")
    assert page.count('class="point"') == 2 * 3
    # Two algorithms: a line each and one for the whole search.
    assert page.count('class="series"') == 3
    assert page.count('class="edge"') == 2
