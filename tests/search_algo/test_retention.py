"""The retention setting (`keep`): which trials keep their files, on hand-made trials."""

from __future__ import annotations

import pytest

from pipeline.config import StudyConfig
from search_algo.architecture import Architecture
from search_algo.errors import UserError
from search_algo.retention import kept_trials, parse_retention
from search_algo.trial import Trial

ARCH = Architecture.from_dict({"blocks": [{"name": "dense"}]})


def trial(trial_id: str, accuracy: float | None, params: int = 100) -> Trial:
    run_id = trial_id.split("-")[0]
    if accuracy is None:
        return Trial(trial_id, 1, 0, ARCH, seed=1, algorithm="beam", run_id=run_id, study="s", status="failed",
                     error="boom")
    return Trial(trial_id, 1, 0, ARCH, seed=1, algorithm="beam", run_id=run_id, study="s", status="completed",
                 metrics={"accuracy": accuracy}, num_params=params, path=f"/runs/{trial_id}")


def board(run_id, members=(), student=None, best=None):
    return {"run_id": run_id, "candidates": [
        {"name": "best_single", "trial_ids": [best] if best else []},
        {"name": "ensemble", "trial_ids": list(members)},
        {"name": "distilled", "trial_ids": [student] if student else [], "student_source": "search"},
    ]}


# run1 finished: 6 trials, one failed; run2 is still running.
TRIALS = [trial("run1-r1-00", 0.90), trial("run1-r1-01", 0.80), trial("run1-r1-02", 0.70),
          trial("run1-r1-03", 0.60), trial("run1-r1-04", 0.50), trial("run1-r1-05", None),
          trial("run2-r1-00", 0.10), trial("run2-r1-01", None)]
BOARDS = {"run1": board("run1", members=["run1-r1-00", "run1-r1-02"], student="run1-r1-04", best="run1-r1-00")}


def test_parse_retention_accepts_all_members_and_best_k_and_rejects_the_rest():
    assert str(parse_retention("all")) == "all" and str(parse_retention(" Members ")) == "members"
    assert str(parse_retention("best-10")) == "best-10" and parse_retention("best-3").best == 3
    for bad in ("best-0", "best", "best-x", "best--1", "top-3", "", None, 10):
        with pytest.raises(UserError, match="keep must be all, members or best-K"):
            parse_retention(bad)


def test_the_study_config_validates_keep_and_defaults_to_best_10():
    assert StudyConfig().keep == "best-10"
    assert StudyConfig(keep="Best-3").keep == "best-3"
    with pytest.raises(UserError, match="keep"):
        StudyConfig(keep="some")


def test_all_keeps_every_trial():
    kept = kept_trials(TRIALS, parse_retention("all"), "classification", {"run1"}, BOARDS)
    assert set(kept) == {t.trial_id for t in TRIALS}


def test_members_keeps_leaderboard_trials_and_every_trial_of_an_unfinished_run():
    kept = kept_trials(TRIALS, parse_retention("members"), "classification", {"run1"}, BOARDS)
    assert kept == {
        "run1-r1-00": "best single model of run1",
        "run1-r1-02": "ensemble member of run1",
        "run1-r1-04": "student of run1",
        "run2-r1-00": "run run2 is not finished",
        "run2-r1-01": "run run2 is not finished",
    }


def test_best_k_adds_the_k_best_completed_trials_of_the_study():
    kept = kept_trials(TRIALS, parse_retention("best-2"), "classification", {"run1"}, BOARDS)
    assert set(kept) == {"run1-r1-00", "run1-r1-01", "run1-r1-02", "run1-r1-04", "run2-r1-00", "run2-r1-01"}
    assert kept["run1-r1-01"] == "among the best-2"
    assert "run1-r1-03" not in kept and "run1-r1-05" not in kept, "neither among the best nor used: a failed trial"


def test_best_k_ranks_regression_by_rmse_and_breaks_ties_to_the_smaller_model():
    rmse = [Trial(f"run1-r1-0{i}", 1, 0, ARCH, seed=1, algorithm="beam", run_id="run1", study="s",
                  status="completed", metrics={"rmse": value}, num_params=size, path=f"/p{i}")
            for i, (value, size) in enumerate([(3.0, 10), (1.0, 50), (1.0, 20), (2.0, 10)])]
    kept = kept_trials(rmse, parse_retention("best-2"), "regression", {"run1"}, {})
    assert set(kept) == {"run1-r1-01", "run1-r1-02"}
    kept = kept_trials(rmse, parse_retention("best-1"), "regression", {"run1"}, {})
    assert set(kept) == {"run1-r1-02"}


def test_trials_already_removed_take_no_place_among_the_best():
    kept = kept_trials(TRIALS, parse_retention("best-1"), "classification", {"run1"}, {},
                       removed={"run1-r1-00"})
    assert "run1-r1-01" in kept and "run1-r1-00" not in kept


def test_an_unfinished_runs_history_is_kept_whatever_the_setting():
    kept = kept_trials(TRIALS, parse_retention("members"), "classification", {"run1"}, {},
                       in_use={"run2": ["run1-r1-03"]})
    assert kept["run1-r1-03"] == "in the history of unfinished run run2"


def test_nothing_is_finished_nothing_goes():
    kept = kept_trials(TRIALS, parse_retention("members"), "classification", set(), {})
    assert set(kept) == {t.trial_id for t in TRIALS}
