"""A study that optimizes ROC AUC on an imbalanced binary CSV ranks and
chooses by AUC everywhere: each trial's curve, the best single model, the
chosen candidate, the leaderboard, the report and the run's summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.cli import main

pytestmark = pytest.mark.e2e

ROWS = 600


@pytest.fixture(scope="module")
def imbalanced_csv(tmp_path_factory):
    """About one positive in eight, its odds rising with two of four features."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(ROWS, 4))
    logit = -2.6 + 1.5 * features[:, 0] - 1.0 * features[:, 1]
    labels = rng.random(ROWS) < 1 / (1 + np.exp(-logit))
    path = tmp_path_factory.mktemp("objective") / "churn.csv"
    lines = ["a,b,c,d,churned"] + [",".join(f"{v:.4f}" for v in row) + f",{'yes' if y else 'no'}"
                                     for row, y in zip(features, labels)]
    path.write_text("\n".join(lines) + "\n")
    assert 0.05 < labels.mean() < 0.2
    return path


def run_json(argv, capsys):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_a_roc_auc_study_ranks_and_chooses_by_auc(imbalanced_csv, tmp_path, capsys):
    output = tmp_path / "study"
    summary = run_json(["run", "--data", str(imbalanced_csv), "--label", "churned", "--objective", "roc_auc",
                        "--rounds", "2", "--trainers", "1", "--trials-per-trainer", "2", "--epochs", "2",
                        "--distill-epochs", "1", "--output", str(output), "--json"], capsys)
    assert summary["objective"] == "roc_auc"
    trials = run_json(["trials", "--output", str(output), "--json"], capsys)
    completed = [t for t in trials if t["status"] == "completed"]
    assert len(completed) == 4
    for trial in completed:
        # The curve is the eval objective after each epoch; its last point is the final eval AUC.
        assert 0.0 <= trial["metrics"]["roc_auc"] <= 1.0
        assert trial["curve"][-1] == pytest.approx(trial["metrics"]["roc_auc"], abs=1e-5)
    by_auc = sorted(completed, key=lambda t: (-t["metrics"]["roc_auc"], t["num_params"], t["trial_id"]))

    leaderboard = json.loads((output / "leaderboard.json").read_text())
    assert leaderboard["objective"] == {"metric": "roc_auc", "direction": "maximize"}
    candidates = {c["name"]: c for c in leaderboard["candidates"]}
    assert candidates["best_single"]["trial_ids"] == [by_auc[0]["trial_id"]]
    best_eval = max(c["eval"]["roc_auc"] for c in candidates.values())
    chosen = candidates[leaderboard["chosen"]]
    assert chosen["eval"]["roc_auc"] == best_eval, "`select: best` takes the highest eval AUC"
    assert leaderboard["distillation"]["metric"] == "roc_auc"
    report = (output / "report.html").read_text()
    assert "Best eval ROC AUC so far" in report and "Eval ROC AUC against size" in report
    assert "eval accuracy so far" not in report, "every metric is in the tables; the charts show the objective"


def test_an_objective_that_does_not_fit_the_task_is_a_user_error(imbalanced_csv, tmp_path, capsys):
    argv = ["run", "--data", str(imbalanced_csv), "--label", "churned", "--objective", "mae", "--rounds", "1",
            "--trainers", "1", "--trials-per-trainer", "1", "--epochs", "1", "--output", str(tmp_path / "x")]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].endswith("objective 'mae' is for regression, but this study's task is classification "
                              "(choose one of accuracy, log_loss, roc_auc, macro_f1)"), error
