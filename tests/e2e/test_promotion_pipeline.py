"""One study with ASHA promotion and a parameter limit, through the CLI: new
trials train the bottom rung, the best are continued from their own weights
as trials of their own, and nothing over the limit is trained or chosen."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main

pytestmark = pytest.mark.e2e

LIMIT = 6000


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    output = tmp_path_factory.mktemp("promotion") / "study"
    argv = ["run", "--dataset", "wine", "--rounds", "4", "--trainers", "1", "--trials-per-trainer", "2",
            "--epochs", "4", "--budget-schedule", "asha", "--reduction-factor", "2", "--min-epochs", "1",
            "--max-params", str(LIMIT), "--distill-epochs", "1", "--output", str(output), "--json"]
    assert main(argv) == 0
    return output


def _json(argv, capsys):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_promotions_continue_their_parents_as_trials_of_their_own(study, capsys):
    trials = _json(["trials", "--output", str(study), "--json"], capsys)
    assert len(trials) == 8 and all(t["status"] == "completed" for t in trials)
    by_id = {t["trial_id"]: t for t in trials}
    promotions = [t for t in trials if t["transfer"] == "continue"]
    assert promotions, "no trial was promoted"
    for trial in trials:
        assert trial["total_epochs"] in (1, 2, 4)
        assert trial["epochs"] <= trial["planned_epochs"]
    for promotion in promotions:
        parent = by_id[promotion["parent"]]
        assert promotion["architecture_spec"] == parent["architecture_spec"]
        assert promotion["total_epochs"] == parent["total_epochs"] + promotion["planned_epochs"]
        assert promotion["round"] > parent["round"]
        # Every block's weights came from the parent.
        assert promotion["transferred_blocks"] and len(promotion["transferred_blocks"]) == len(parent["architecture"])
    # The rounds' first slots went to the best trial of its rung: round 2 continues round 1's best.
    round_one = sorted((t for t in trials if t["round"] == 1), key=lambda t: (-t["metrics"]["accuracy"], t["num_params"], t["trial_id"]))
    assert by_id["run1-r2-00"]["parent"] == round_one[0]["trial_id"]
    assert sum(t["planned_epochs"] for t in trials) < 8 * 4, "ASHA spends fewer epochs than full-budget trials"


def test_nothing_over_the_limit_is_trained_or_chosen(study, capsys):
    trials = _json(["trials", "--output", str(study), "--json"], capsys)
    assert all(t["num_params"] <= LIMIT for t in trials)
    leaderboard = json.loads((study / "leaderboard.json").read_text())
    assert leaderboard["constraints"] == {"max_params": LIMIT, "max_latency_ms": 0.0}
    candidates = {c["name"]: c for c in leaderboard["candidates"]}
    chosen = candidates[leaderboard["chosen"]]
    assert chosen["num_params"] <= LIMIT and chosen["over_limits"] == []
    for candidate in candidates.values():
        assert bool(candidate["over_limits"]) == (candidate["num_params"] > LIMIT)
    report = (study / "report.html").read_text()
    assert f"Constraints on every candidate: at most {LIMIT:,} parameters." in report
