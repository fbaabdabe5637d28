"""Loading a user's module file (the TFX `module_file` convention).

The file registers custom blocks with `search_algo.register_block` when it is
imported. It is imported by path under a module name derived from that path,
so loading it again (a second trainer in the same process, a re-run) returns
the module already loaded instead of registering its blocks twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import types
from pathlib import Path

from search_algo.blocks import registry
from search_algo.errors import UserError

MODULE_PREFIX = "search_algo_user_module_"


def module_name_for(path: str | Path) -> str:
    """Deterministic module name: the file's stem plus a hash of its absolute path."""
    resolved = Path(path).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", resolved.stem)
    return f"{MODULE_PREFIX}{stem}_{digest}"


def load_module_file(path: str | Path) -> types.ModuleType:
    """Imports the user's Python file, registering the blocks it defines.

    Raises UserError if the file is missing or fails to import, and
    SearchSpaceError if it registers a block whose name is taken. A failed
    import registers nothing.
    """
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise UserError(f"module file {str(path)!r} does not exist")
    if resolved.suffix != ".py":
        raise UserError(f"module file {str(path)!r} is not a Python (.py) file")
    name = module_name_for(resolved)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise UserError(f"module file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    before = {block.name for block in registry.list_blocks()}
    sys.modules[name] = module  # registered first, as a normal import does
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]
        for block in registry.list_blocks():
            if block.name not in before:
                registry.unregister_block(block.name)
        if isinstance(error, UserError):
            raise type(error)(f"module file {str(path)!r}: {error}") from error
        if not isinstance(error, Exception):
            raise
        raise UserError(
            f"module file {str(path)!r} failed to import: {type(error).__name__}: {error}"
        ) from error
    return module


__all__ = ["load_module_file", "module_name_for"]
