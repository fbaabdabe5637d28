"""A fingerprint of the code that computes results.

TFX's cache key covers a component's class path, inputs and parameters, not
its code: editing an executor would silently reuse stale results. Every
custom component takes this fingerprint as a parameter instead.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Optional

PACKAGES = ("search_algo", "components")


def code_version(module_file: Optional[str] = None) -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("tfx-model-search").encode())
    except metadata.PackageNotFoundError:
        pass
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    if module_file:
        digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:16]
