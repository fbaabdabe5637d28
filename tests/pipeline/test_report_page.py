"""The report page's parts on small hand-made trials: Pareto front, metric direction, escaping."""

from __future__ import annotations

import base64
import hashlib

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


def test_report_shows_the_constraints_and_which_candidates_are_over_them():
    trials = [_trial("run1-r1-00", 1, 3.0, 100), _trial("run1-r2-00", 2, 2.0, 100, parent="run1-r1-00")]
    trials[1]["transfer"] = "continue"
    board = {"chosen": "best_single", "study": "s", "run_id": "run1", "task": "regression",
             "constraints": {"max_params": 150, "max_latency_ms": 0.0},
             "candidates": [
                 {"name": "best_single", "trial_ids": ["run1-r2-00"], "num_params": 100, "eval": {"rmse": 2.0},
                  "test": {"rmse": 2.1}, "latency_ms": 1.0, "over_limits": []},
                 {"name": "ensemble", "trial_ids": ["run1-r1-00", "run1-r2-00"], "num_params": 200,
                  "eval": {"rmse": 1.5}, "test": {"rmse": 1.6}, "latency_ms": 2.0,
                  "over_limits": ["200 parameters > max_params 150"]}]}
    page = report.build_report(board, trials)
    assert "Constraints on every candidate: at most 150 parameters." in page
    assert "<td>no: 200 parameters &gt; max_params 150</td>" in page and "<td>yes</td>" in page
    assert "run1-r1-00 (continued)" in page
    # Without constraints, no such column.
    del board["constraints"]
    assert "within the constraints" not in report.build_report(board, trials)



OUT_OF_FOLD = "eval, out-of-fold over 5 folds: each fold scored by an ensemble, chosen on the other 4 folds"
ESTIMATED_BOARD = {
    "chosen": "best_single", "study": "s", "run_id": "run1", "task": "classification", "chosen_on": "estimate",
    "candidates": [
        {"name": "best_single", "trial_ids": ["run1-r1-00"], "num_params": 100,
         "estimate": {"accuracy": 0.912}, "estimated_by": {"how": "eval, out-of-fold over 5 folds: best"},
         "eval": {"accuracy": 0.93}, "test": {"accuracy": 0.905}, "latency_ms": 1.0},
        {"name": "ensemble", "trial_ids": ["run1-r1-00", "run1-r1-01"], "num_params": 200,
         "estimate": {"accuracy": 0.908}, "estimated_by": {"how": OUT_OF_FOLD},
         "eval": {"accuracy": 0.95}, "test": {"accuracy": 0.91}, "latency_ms": 2.0}]}


def test_report_shows_each_estimate_and_how_it_was_made_beside_eval_and_test():
    table = report.candidates_table(ESTIMATED_BOARD)
    assert table["head"][:6] == ["candidate", "models", "parameters", "estimate accuracy", "estimated by",
                                 "eval accuracy"]
    ensemble = table["rows"][1]["cells"]
    assert ensemble[2:5] == [report._number(0.908), OUT_OF_FOLD, report._number(0.95)]
    # A leaderboard from before estimates has no such columns.
    old = {**ESTIMATED_BOARD, "candidates": [{k: v for k, v in c.items() if not k.startswith("estimat")}
                                             for c in ESTIMATED_BOARD["candidates"]]}
    assert "estimated by" not in report.candidates_table(old)["head"]


def test_leaderboard_command_shows_the_estimates_and_how_they_were_made(tmp_path, capsys):
    import json

    (tmp_path / "leaderboard.json").write_text(json.dumps(ESTIMATED_BOARD))
    assert main(["leaderboard", "--output", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "estimate" in shown and "accuracy 0.908" in shown and "accuracy 0.95" in shown
    assert "chosen on the estimates (test is reported only)" in shown
    assert f"ensemble: {OUT_OF_FOLD}" in " ".join(shown.split())

# --------------------------------------------------------------------------
# A classification study over three runs, with hostile names everywhere.

HOSTILE_CLASS = "<script>alert(1)</script>"
AMPERSAND_CLASS = 'R&D "new" <b>'
HOSTILE_STUDY = "<img onerror=alert(2)> & co"
HOSTILE_BLOCK = "<svg onload=alert(3)>"
HOSTILE_RUN = "run3<i>&"
CLASSES = ["cat", HOSTILE_CLASS, AMPERSAND_CLASS]
MATRIX = [[5, 1, 0], [2, 7, 1], [0, 0, 4]]


def _classification_trial(trial_id, run_id, round_, accuracy, curve, status="completed", parent=None):
    architecture = Architecture.from_dict({"blocks": [{"name": "dense", "args": {"units": 8, "note": HOSTILE_BLOCK}}]})
    return {
        "trial_id": trial_id, "round": round_, "run_id": run_id, "status": status, "algorithm": "evolution",
        "architecture": ["dense", HOSTILE_BLOCK], "architecture_spec": architecture.to_dict(), "parent": parent,
        "metrics": {"accuracy": accuracy, "loss": 1 - accuracy} if status == "completed" else {},
        "num_params": 100 + 10 * round_, "epochs": len(curve), "train_seconds": 2.0, "curve": curve,
        "started_at": f"2024-01-0{int(run_id[3])}T10:0{round_}:00+00:00", "stopped_early": len(curve) < 3,
        "error": None if status == "completed" else f"NaN loss {HOSTILE_CLASS}",
    }


def _details():
    totals = [sum(row) for row in MATRIX]
    return {"per_class": [{"class": name, "precision": 0.5, "recall": MATRIX[i][i] / totals[i], "support": totals[i]}
                          for i, name in enumerate(CLASSES)],
            "confusion_matrix": MATRIX}


def _board(run_id, chosen="ensemble", eval_accuracy=0.8, test_accuracy=0.75, trial_ids=("run1-r1-00",)):
    return {"chosen": chosen, "study": HOSTILE_STUDY, "run_id": run_id, "task": "classification",
            "objective": {"metric": "accuracy", "direction": "maximize"},
            "candidates": [{"name": name, "trial_ids": list(trial_ids), "num_params": 120,
                            "eval": {"accuracy": eval_accuracy + 0.01 * i}, "test": {"accuracy": test_accuracy + 0.01 * i},
                            "test_details": _details(), "eval_details": _details(), "latency_ms": 1.5}
                           for i, name in enumerate(("best_single", chosen, "distilled"))]}


@pytest.fixture(scope="module")
def study_page():
    trials = [
        _classification_trial("run1-r1-00", "run1", 1, 0.70, [0.5, 0.6, 0.70]),
        _classification_trial("run1-r1-01", "run1", 1, 0.60, [0.4, 0.60]),
        _classification_trial("run2-r1-00", "run2", 1, 0.85, [0.6, 0.8, 0.85], parent="run1-r1-00"),
        _classification_trial("run2-r1-01", "run2", 1, 0.0, [0.3], status="failed"),
        _classification_trial("run2-r2-00", "run2", 2, 0.80, [], parent="run2-r1-00"),  # no curve recorded
        _classification_trial(f"{HOSTILE_RUN}-r1-00", HOSTILE_RUN, 1, 0.0, [], status="failed"),
    ]
    history = [
        {"run_id": "run1", "candidate": "best_single", "num_params": 100, "eval": {"accuracy": 0.70}, "blessed": True,
         "pushed": True, "pushed_to": "/serving/1", "model_uri": "/m/1", "baseline_model": None,
         "written_at": "2024-01-01T11:00:00+00:00"},
        {"run_id": "run2", "candidate": "ensemble", "num_params": 120, "eval": {"accuracy": 0.65}, "blessed": False,
         "pushed": False, "pushed_to": None, "model_uri": "/m/2", "baseline_model": "/m/1", "baseline_run": "run1",
         "written_at": "2024-01-02T11:00:00+00:00"},
    ]
    earlier = {"run1": _board("run1", chosen="best_single", eval_accuracy=0.69, test_accuracy=0.66)}
    board = _board("run2", trial_ids=("run2-r1-00", "run1-r1-00"))
    page = report.build_report(board, trials, {"name": HOSTILE_STUDY, "task": "classification", "class_names": CLASSES},
                               generated_at="2024-01-02 12:00 UTC", history=history, leaderboards=earlier)
    return {"page": page, "trials": trials}


def _between(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def test_learning_curves_one_line_per_completed_trial_with_a_curve(study_page):
    page = study_page["page"]
    chart = _between(page, "<h2>Learning curves</h2>", "</section>")
    with_curve = [t for t in study_page["trials"] if t["status"] == "completed" and t["curve"]]
    assert chart.count("<polyline ") == chart.count('<polyline class="curve') == len(with_curve) == 3
    # The chosen model's trials (the ensemble's members) in colour, the rest faint.
    assert chart.count('class="curve chosen"') == 2 and chart.count('class="curve"') == 1
    assert 'data-trial="run1-r1-01"' in chart and "eval accuracy" in chart
    # One point per epoch: run2-r1-00 has three.
    line = _between(chart, 'data-trial="run2-r1-00" points="', '"')
    assert len(line.split()) == 3


def test_confusion_matrix_counts_and_escaped_class_names(study_page):
    page = study_page["page"]
    table = _between(page, '<table class="confusion">', "</table>")
    rows = table.split("<tbody>", 1)[1].split("<tr>")[1:]
    counts = [[int(cell.split('"', 1)[0]) for cell in row.split('data-count="')[1:]] for row in rows]
    assert counts == MATRIX
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert "R&amp;D &#34;new&#34; &lt;b&gt;" in table
    # The heat: a full row share is the darkest cell.
    assert "rgba(0,114,178,0.850)" in table and "rgba(0,114,178,0.000)" in table
    per_class = _between(page, '<table class="per-class">', "</table>")
    assert per_class.count("<tr>") == 1 + len(CLASSES)
    assert '<td class="num">10</td>' in per_class  # the support of the hostile class


def test_no_confusion_matrix_for_regression():
    trials = [_trial("run1-r1-00", 1, 3.0, 100)]
    board = {"chosen": "ensemble", "study": "houses", "run_id": "run1", "task": "regression",
             "candidates": [{"name": "ensemble", "trial_ids": ["run1-r1-00"], "eval": {"rmse": 1.0}, "test": {"rmse": 1.1}}]}
    page = report.build_report(board, trials)
    assert 'class="confusion"' not in page and 'class="per-class"' not in page


def test_timeline_lists_every_run(study_page):
    page = study_page["page"]
    table = _between(page, '<table class="timeline">', "</table>")
    runs = [row.split('"', 1)[0] for row in table.split('data-run="')[1:]]
    assert runs == ["run1", "run2", "run3&lt;i&gt;&amp;"]
    run1, run2, run3 = table.split("<tbody>", 1)[1].split("</tbody>")[0].split("<tr ")[1:]
    # run1: pushed, its own model in production; run2: not blessed, compared with run1's model.
    assert "/serving/1" in run1 and "<td>yes</td>" in run1 and "0.69" in run1 and "0.66" in run1
    assert "<strong>no</strong>" in run2 and "not pushed" in run2 and "<td>run1</td>" in run2
    assert "no leaderboard" in run3
    # After each run the production model stays run1's.
    assert run2.rstrip().endswith("<td>run1</td></tr>") and run3.rstrip().endswith("<td>run1</td></tr>")
    chart = _between(page, "<h2>Production</h2>", "</section>")
    assert chart.count('<polyline class="production"') == 1 and chart.count('class="run-score"') == 2


def test_no_user_string_appears_unescaped(study_page):
    page = study_page["page"]
    for hostile in (HOSTILE_CLASS, AMPERSAND_CLASS, HOSTILE_STUDY, HOSTILE_BLOCK, HOSTILE_RUN, "<b>", "<i>"):
        assert hostile not in page, hostile
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Escaped once, never twice.
    assert "&amp;amp;" not in page and "&amp;lt;" not in page and "&amp;#" not in page
    assert page.count("<script") == 1
    # The page's policy is the strict one, verbatim.
    assert f'<meta http-equiv="Content-Security-Policy" content="{report.CSP}">' in page
    for reference in ("http://", "https://", "src=", "<link"):
        assert reference not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_policy_allows_the_one_script_by_the_hash_of_its_exact_text(study_page):
    page = study_page["page"]
    script = _between(page, "<script>", "</script>")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    policy = dict(directive.strip().split(" ", 1) for directive in report.CSP.split(";"))
    assert policy["script-src"] == f"'sha256-{digest}'"
    assert "sortBy" in script


def test_every_user_string_reads_back_as_text(study_page):
    """What a browser shows: the parsed page's text holds each name as written."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts, self.tags = [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)

        def handle_data(self, data):
            self.parts.append(data)

    parser = Text()
    parser.feed(study_page["page"])
    text = "".join(parser.parts)
    for name in (HOSTILE_CLASS, AMPERSAND_CLASS, HOSTILE_STUDY, HOSTILE_BLOCK, HOSTILE_RUN):
        assert name in text, name
    assert parser.tags.count("script") == 1 and "img" not in parser.tags and "b" not in parser.tags


def test_the_template_ships_with_the_package():
    """An installed (not editable) package has the template: pyproject's
    package-data names it (the Dockerfile installs the project with pip)."""
    import fnmatch
    from pathlib import Path

    tomli = pytest.importorskip("tomli")
    root = Path(report.__file__).resolve().parent.parent
    config = tomli.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["pipeline"]
    templates = sorted(p.relative_to(root / "pipeline").as_posix() for p in (root / "pipeline" / "templates").iterdir())
    assert report.TEMPLATE in {Path(t).name for t in templates}
    assert all(any(fnmatch.fnmatch(t, pattern) for pattern in patterns) for t in templates)
    assert "jinja2" in {d.split("=")[0].split("[")[0].strip().lower() for d in config["project"]["dependencies"]}


TIMING = {
    "time_spent": {"wall_seconds": 300.0, "training": 210.0, "evaluation": 30.0, "post_search": 24.0,
                   "ingest": 6.0, "orchestration": 30.0},
    "time_budget": {"budget": "5m", "seconds": 300.0, "search_seconds": 215.0, "reserve_seconds": 85.0,
                    "started_at": "2024-01-02T11:00:00+00:00", "elapsed_seconds": 302.4, "kept": True,
                    "tolerance_seconds": 30.0, "rounds_searched": 3, "max_rounds": 8, "skipped_trials": 2},
}


def test_the_report_says_where_the_time_went_and_how_the_budget_was_kept():
    page = report.build_report({**_board("run2"), **TIMING}, [], generated_at="2024-01-02 12:00 UTC")
    section = _between(page, "<h2>Where the time went</h2>", "</section>")
    assert "Time budget 5m: search 215 s, reserve 85 s" in section
    assert "took 302 s since it started (within its budget), searched in 3 of 8 rounds" in section
    assert "left 2 proposals untrained" in section
    rows = {cells[0]: cells[1:3] for cells in
            ([c.split("</td>")[0] for c in row.split("<td")[1:]] for row in section.split("<tr>")[2:])}
    assert rows['>training'] == [' class="num">210.0', ' class="num">70%']
    assert rows['>after the search'] == [' class="num">24.0', ' class="num">8%']
    assert rows['>orchestration'] == [' class="num">30.0', ' class="num">10%']
    over = {**TIMING, "time_budget": {**TIMING["time_budget"], "kept": False, "skipped_trials": 0}}
    over_page = report.build_report({**_board("run2"), **over}, [], generated_at="2024-01-02 12:00 UTC")
    assert "<strong>over its budget</strong>" in over_page and "untrained" not in over_page
    # Without a budget: the parts only; a leaderboard without timing (ML Metadata's): no section.
    plain = report.build_report({**_board("run2"), "time_spent": TIMING["time_spent"]}, [])
    assert "Where the time went" in plain and "Time budget" not in plain
    assert "Where the time went" not in report.build_report(_board("run2"), [])
