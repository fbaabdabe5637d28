"""Writes the study config's reference from its schema (pipeline/config_schema.py):

    python -m pipeline.config_docs            # or: make config-docs
    python -m pipeline.config_docs --check    # exit status 1 when docs/ is stale

docs/config.md is a table of every key; docs/config.schema.json is the JSON
Schema editors check a config file against. tests/pipeline/test_config_schema.py
fails when either differs from what this writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline import config_schema
from pipeline.config_schema import StudySettings

MARKDOWN_FILE = "config.md"
JSON_SCHEMA_FILE = "config.schema.json"

INTRODUCTION = f"""\
# Study config reference

<!-- Written by `make config-docs` (python -m pipeline.config_docs) from pipeline/config_schema.py: edit that, not this. -->

One YAML file holds everything a study's run needs (`model-search run study.yaml`, or
`model-search compile study.yaml ...` for a cluster); a flag overrides the file's value, and the
default below holds where neither says anything. Keys are written with underscores (`trials_per_trainer`), flags with dashes
(`--trials-per-trainer`). A relative `data`, `test_data` or `module_file` in a file is relative to the file.

A key the schema does not know is an error, as is a value of the wrong type or out of range; the
command then stops before anything runs, with exit status 2 and one line naming the key and the file
(or the flag):

```
model-search: error: config study.yaml: key 'rounds': must be a positive integer, got 0
model-search: error: config study.yaml: unknown key 'epoch'; did you mean 'epochs'?
```

`examples/mnist1d.yaml` and `examples/digits.yaml` are complete studies to start from.

## Checking a config in your editor

[`{JSON_SCHEMA_FILE}`]({JSON_SCHEMA_FILE}) is this reference as a JSON Schema. With VS Code's YAML
extension (Red Hat's `redhat.vscode-yaml`), a first line naming it gives completion, hover help and
errors as you type; the path is relative to the config file:

```yaml
# yaml-language-server: $schema=../docs/{JSON_SCHEMA_FILE}
dataset: mnist1d
rounds: 5
```

or, for every study config of a workspace, in `.vscode/settings.json`:

```json
{{"yaml.schemas": {{"./docs/{JSON_SCHEMA_FILE}": ["examples/*.yaml", "studies/*.yaml"]}}}}
```

Other editors with a YAML language server (Neovim, Emacs, JetBrains IDEs) read the same first line or
map the schema to files in their settings.
"""


def rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """(key, field) for every key, the keys of a nested mapping (`audio.n_mels`) after it."""
    for name, field in model.model_fields.items():
        yield prefix + name, field
        nested = config_schema.nested_model(field)
        # data_source repeats the data keys: its row says so, theirs are above.
        if nested is not None and name != "data_source":
            yield from rows(nested, prefix=f"{prefix}{name}.")


def render_markdown() -> str:
    from pipeline.commands.run import STUDY_FLAGS, flag_name

    by_group: dict[str, list[tuple[str, FieldInfo]]] = {group: [] for group in config_schema.GROUPS}
    for key, field in rows(StudySettings):
        by_group[config_schema.group_of(field)].append((key, field))
    parts = [INTRODUCTION]
    for group, fields in by_group.items():
        parts.append(f"\n## {group[0].upper()}{group[1:]}\n\n")
        parts.append("| key | type | default | allowed values | flag | description |\n")
        parts.append("|---|---|---|---|---|---|\n")
        for key, field in fields:
            flag = f"`{flag_name(key)}`" if key in STUDY_FLAGS else ""
            allowed = config_schema.requirement(key.rsplit(".", 1)[-1], field).removeprefix("must be ")
            cells = [f"`{key}`", config_schema.type_name(field), _default(field), _cell(allowed), flag,
                     _cell(field.description)]
            parts.append("| " + " | ".join(cells) + " |\n")
    return "".join(parts)


def _default(field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "unset"
    if isinstance(default, BaseModel):
        return "see below"
    return f"`{json.dumps(default)}`" if not isinstance(default, str) else f"`{default}`"


def _cell(text: str) -> str:
    """Table-safe: `<study>` is no HTML tag, `|` no column."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_json_schema() -> str:
    return json.dumps(config_schema.json_schema(), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name in docs/ -> its content."""
    return {MARKDOWN_FILE: render_markdown(), JSON_SCHEMA_FILE: render_json_schema()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.config_docs", description=__doc__.splitlines()[0])
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
    parser.add_argument("--docs", default=docs, help="the folder to write into (default: this checkout's docs/)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, content in rendered().items():
        path = os.path.join(args.docs, name)
        current = open(path, encoding="utf-8").read() if os.path.isfile(path) else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            with open(path, "w", encoding="utf-8") as file:
                file.write(content)
    for path in stale:
        print(f"{path} is stale: run `make config-docs`" if args.check else f"wrote {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
