"""`model-search blocks`: list every block the search can place."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "blocks",
        help="list the registered blocks (built-in and custom)",
        description="List every registered block with the tensor kinds it accepts, the kind "
        "it produces and its arguments (default and allowed values).",
    )
    parser.add_argument(
        "--module-file",
        metavar="FILE",
        action="append",
        default=[],
        help="a Python file registering custom blocks (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list on stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the block library pulls in Keras/TensorFlow, and `--help`
    # must stay instant.
    from search_algo.blocks import list_blocks
    from search_algo.module_file import load_module_file

    for path in args.module_file:
        load_module_file(path)
    blocks = [block.describe() for block in list_blocks()]
    if args.json:
        print(json.dumps(blocks, indent=2))
    else:
        print(format_table(blocks))
    return 0


def _format_arg(name: str, spec: dict) -> str:
    if "choices" in spec:
        values = "|".join(_short(v) for v in spec["choices"])
    else:
        values = f"{_short(spec['low'])}..{_short(spec['high'])}" + (" log" if spec["log"] else "")
    return f"{name}={_short(spec['default'])} [{values}]"


def _short(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def format_table(blocks: list[dict]) -> str:
    """One row per block; arguments on indented lines below it."""
    rows = [("BLOCK", "INPUT KINDS", "OUTPUT", "ORIGIN")]
    for block in blocks:
        origin = "built-in" if block["builtin"] else (block["source"] or "custom")
        rows.append((block["name"], ",".join(block["input_kinds"]), block["output_kind"], origin))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for position, row in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3]
        )
        if position == 0:
            continue
        block = blocks[position - 1]
        if block["description"]:
            lines.append(f"    {block['description']}")
        for arg_name, spec in block["args"].items():
            lines.append(f"    - {_format_arg(arg_name, spec)}")
    return "\n".join(lines)
