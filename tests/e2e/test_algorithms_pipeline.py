"""A portfolio of every search algorithm through the real pipeline (tiny
budget on wine). Each algorithm's Proposer on real trained history is tested
in tests/components/search; the pipeline around it is the same for all."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("algorithm", ["portfolio"])
def test_run_with_algorithm(algorithm, tmp_path, capsys):
    output = tmp_path / algorithm
    argv = ["run", "--dataset", "wine", "--algorithm", algorithm, "--rounds", "2", "--trainers", "1",
            "--trials-per-trainer", "2", "--epochs", "1", "--distill-epochs", "1", "--output", str(output), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"]["total"] == 4
    assert main(["trials", "--output", str(output), "--json"]) == 0
    trials = json.loads(capsys.readouterr().out)
    assert len({json.dumps(t["architecture_spec"], sort_keys=True) for t in trials}) == 4, "no candidate twice"
    if algorithm == "portfolio":
        assert all(t["algorithm"] != "portfolio" for t in trials), "a portfolio records which algorithm proposed"
    else:
        assert all(t["algorithm"] == algorithm for t in trials)
