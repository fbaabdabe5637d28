"""A search restricted to a user's custom block, through the whole pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_blocks.py"


def test_search_restricted_to_a_custom_block(tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump({
        "dataset": "mnist1d",
        "module_file": str(EXAMPLE),
        "rounds": 1,
        "trainers": 1,
        "trials_per_trainer": 2,
        "epochs": 1,
        "distill_epochs": 1,
        "search_space": {"blocks": ["se_conv1d"], "min_depth": 1, "max_depth": 2},
    }))
    output = tmp_path / "run"
    assert main(["run", str(config), "--output", str(output), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"] == {"total": 2, "completed": 2, "failed": 0, "skipped": 0}
    assert main(["trials", "--output", str(output), "--json"]) == 0
    trials = json.loads(capsys.readouterr().out)
    assert all(set(t["architecture"]) == {"se_conv1d"} for t in trials)
    assert Path(summary["serving"]).is_dir()
