"""`model-search blocks`: the block listing."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.cli import main

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "custom_blocks.py")


def test_json_listing_includes_custom_blocks(capsys):
    assert main(["blocks", "--module-file", EXAMPLE, "--json"]) == 0
    blocks = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert {"dense", "resnet_basic2d", "transformer_encoder", "attention_pool"} <= set(blocks)
    se = blocks["se_conv1d"]
    assert se["builtin"] is False and se["source"].endswith("custom_blocks.py")
    assert se["input_kinds"] == ["sequence"] and se["output_kind"] == "sequence"
    assert se["args"]["filters"] == {"default": 32, "choices": [16, 32, 64]}
    assert blocks["conv2d"]["args"]["kernel_size"] == {"default": 3, "choices": [1, 3, 5, 7]}
    assert blocks["flatten"]["input_kinds"] == ["image", "sequence"]


def test_table_listing(capsys):
    assert main(["blocks", "--module-file", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["BLOCK", "INPUT", "KINDS", "OUTPUT", "ORIGIN"]
    assert "resnet1d" in out and "- units=32 [16|32|64|128]" in out
    assert "se_conv1d" in out and "custom_blocks.py" in out


def test_missing_module_file_is_a_usage_error(capsys, tmp_path):
    assert main(["blocks", "--module-file", str(tmp_path / "missing.py"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "does not exist" in captured.err
