"""The `make run` measurement's table, from a hand-made raw report."""

from __future__ import annotations

from benchmarks import default_run


def _run(seed, seconds, accuracy):
    return {"seed": seed, "wall_seconds": seconds, "chosen": "ensemble", "chosen_test_accuracy": accuracy,
            "chosen_eval_accuracy": accuracy, "chosen_num_params": 12345, "best_single_test_accuracy": 0.9}


def test_table_has_a_row_per_seed_and_judges_the_median():
    report = {"command": "model-search run --dataset mnist1d", "seeds": [0, 1, 2], "machine": "m", "date": "d",
              "commit": "c", "budget": {"rounds": 3, "trainers": 2, "trials_per_trainer": 2, "epochs": 10}, "runs": [_run(0, 250, 0.975), _run(1, 320, 0.968), _run(2, 290, 0.972)],
              "median": {"wall_seconds": 290, "chosen_test_accuracy": 0.972}}
    text = default_run.markdown(report)
    assert text.count("\n| 1 | 320 | ensemble | 0.968 |") == 1 and "12,345" in text
    assert "Accuracy target met: yes; time target met: yes." in text
    assert "default budget 3 rounds × 2 trainers × 2 trials of 10 epochs" in text
    report["median"]["wall_seconds"] = 301
    assert "time target met: no." in default_run.markdown(report)


def test_the_recorded_budget_is_the_cli_default():
    from pipeline.config_schema import StudySettings

    budget = default_run.default_budget()
    assert budget == {key: getattr(StudySettings(dataset="mnist1d"), key) for key in default_run.BUDGET_KEYS}
