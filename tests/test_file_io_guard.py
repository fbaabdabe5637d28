"""Every file the project reads or writes goes through a file-system layer that
handles gs:// (TFX's `fileio`, `tf.io.gfile`, Beam's `FileSystems`), so data,
artifacts and the pipeline root can live on Cloud Storage.

This guard parses every module of `search_algo/`, `components/` and `pipeline/`
and fails on local-only file operations outside `ALLOWED`, which holds the few
genuinely local things, each with its reason. Local-only means: the builtin
`open`, any use of pathlib, the `os.path` checks, `os` file and directory
operations, `shutil`, `glob`, and `PIL.Image.open` / `scipy.io.wavfile.read` /
`np.load` / `np.save` / `np.savez` unless they are given a file object that is
visibly one: an `io.BytesIO(...)` or a handle from `fileio.open(...)`,
`tf.io.gfile.GFile(...)` or `FileSystems.open/create(...)`, directly or through
a name bound to one in the same function.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("search_algo", "components", "pipeline")
MODULE_SCOPE = "<module>"

# (module path relative to the project root, enclosing function's __qualname__): why it may stay local.
ALLOWED: dict[tuple[str, str], str] = {
    ("search_algo/module_file.py", "module_name_for"):
        "a --module-file is a Python module: it must be a local file to be imported",
    ("search_algo/module_file.py", "load_module_file"):
        "a --module-file is a Python module: it must be a local file to be imported",
    ("pipeline/code_version.py", "code_version"):
        "the code fingerprint hashes this package's own source files (and the --module-file), which are local",
    ("pipeline/config.py", "load_config_file"):
        "the YAML study config is the CLI's own input file on the user's machine",
    ("pipeline/config_docs.py", "main"):
        "writes docs/config.md and docs/config.schema.json of this checkout, the developer's local files",
    ("pipeline/commands/run.py", "study_config_from_args"):
        "--module-file must be a local file to be imported (checked before TensorFlow loads)",
    ("pipeline/commands/run.py", "_data_exists"):
        "a local --data path is checked with os.path before TensorFlow loads; URIs go through fileio there",
    ("pipeline/local_runner.py", "collect_results"):
        "DIR/leaderboard.json is the local runner's own output file in its run directory",
    ("pipeline/local_runner.py", "_newest_push"):
        "lists DIR/serving of the local runner's own run directory for its summary",
    ("pipeline/commands/leaderboard.py", "read_leaderboard"):
        "reads DIR/leaderboard.json, the local runner's own output file",
    ("pipeline/study_access.py", "open_store"):
        "checks for DIR/metadata.sqlite: SQLite metadata is a local file",
    ("components/write_once.py", "_create_local"):
        "creates a local file exclusively and fsyncs it (link, fsync): fileio has neither; other schemes go "
        "through fileio or the Cloud Storage client",
    ("pipeline/metadata_uri.py", "_sqlite"):
        "creates the folder of a SQLite metadata file, or checks that it exists: SQLite needs a local file",
    ("pipeline/metadata_uri.py", "mysql_password"):
        "reads MODEL_SEARCH_MYSQL_PASSWORD_FILE, a secret on this machine like the environment that names it",
    ("pipeline/commands/run.py", "_check_run_directory"):
        "the local runner's run directory is on this machine (its lock and SQLite metadata need a local file)",
    ("pipeline/parallel_runner.py", "_cgroup_memory_counters"):
        "reads the kernel's /proc and /sys/fs/cgroup files for the out-of-memory kill counter of this machine",
    ("pipeline/cleanup.py", "_local_size"):
        "gc measures the local run directory without following symbolic links (lstat, os.walk); fileio follows them",
    ("pipeline/cleanup.py", "_children"):
        "gc lists a local folder of its run directory without following symbolic links; URIs go through fileio",
    ("pipeline/cleanup.py", "_remove"):
        "gc removes only inside the local run directory's real path, and shutil.rmtree unlinks links without "
        "following them, where fileio's delete empties their targets",
    ("pipeline/run_lock.py", "_holder"):
        "the run directory's lock file is a local file: flock works on local files only",
    ("pipeline/run_lock.py", "run_directory_lock"):
        "the run directory's lock file is a local file: flock works on local files only",
    ("pipeline/submission.py", "load_spec"):
        "reads the compiled spec named on the command line (the output of `compile --out`), a local file",
    ("pipeline/submission.py", "write_kfp_package"):
        "writes the kfp client's package file into a local temporary directory",
    ("pipeline/kubeflow.py", "compile_pipeline"):
        "reads the runner's output from a local temporary directory and writes `compile --out`, a local file",
}

LOCAL_PATH_CHECKS = {f"os.path.{name}" for name in ("exists", "isfile", "isdir", "getsize", "getmtime", "islink")}
LOCAL_OS_CALLS = {
    f"os.{name}"
    for name in ("listdir", "scandir", "walk", "makedirs", "mkdir", "remove", "unlink", "rename", "replace", "rmdir")
}
LOCAL_CALLS = {"open", "io.open", "glob.glob", "glob.iglob"} | LOCAL_PATH_CHECKS | LOCAL_OS_CALLS
# Fine on a file object, local-only on a path.
READERS_OF_FILES = {
    "PIL.Image.open", "scipy.io.wavfile.read", "numpy.load", "numpy.save", "numpy.savez", "numpy.savez_compressed",
}
FILE_OBJECT_FACTORIES = {
    "io.BytesIO",
    "tfx.dsl.io.fileio.open",
    "tensorflow.io.gfile.GFile",
    "apache_beam.io.filesystems.FileSystems.open",
    "apache_beam.io.filesystems.FileSystems.create",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    module: str
    line: int
    function: str
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} in {self.function}: {self.what}"


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it was imported as, over every import of the module
    (function-level imports included: the project imports lazily)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else [*base, node.attr]
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, imported: dict[str, str]):
        self.module = module
        self.imported = imported
        self.scopes: list[tuple[str, bool]] = []  # (name, is a function)
        self.file_objects: list[set[str]] = [set()]
        self.findings: list[Finding] = []

    def resolve(self, node: ast.AST) -> str | None:
        parts = _dotted(node)
        if parts is None:
            return None
        return ".".join([self.imported.get(parts[0], parts[0]), *parts[1:]])

    def qualname(self) -> str:
        """As Python's __qualname__: `Class.method`, `outer.<locals>.inner`."""
        parts = []
        for index, (name, is_function) in enumerate(self.scopes):
            parts.append(name)
            if is_function and index < len(self.scopes) - 1:
                parts.append("<locals>")
        return ".".join(parts) or MODULE_SCOPE

    def report(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.module, node.lineno, self.qualname(), what))

    def is_file_object(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Call):
            return self.resolve(node.func) in FILE_OBJECT_FACTORIES
        return isinstance(node, ast.Name) and node.id in self.file_objects[-1]

    def bound_file_objects(self, scope: ast.AST) -> set[str]:
        """Names bound in a scope to a file object (`with fileio.open(...) as f`, `buffer = io.BytesIO()`)."""
        bound: set[str] = set()
        for node in ast.walk(scope):
            if isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                if self.is_file_object(node.context_expr):
                    bound.add(node.optional_vars.id)
            elif isinstance(node, ast.Assign) and self.is_file_object(node.value):
                bound.update(target.id for target in node.targets if isinstance(target, ast.Name))
        return bound

    def visit_scope(self, node: ast.AST, name: str, is_function: bool) -> None:
        self.scopes.append((name, is_function))
        self.file_objects.append(self.bound_file_objects(node))
        self.generic_visit(node)
        self.file_objects.pop()
        self.scopes.pop()

    def visit_Module(self, node: ast.Module) -> None:
        self.file_objects = [self.bound_file_objects(node)]
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.visit_scope(node, node.name, is_function=True)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.visit_scope(node, node.name, is_function=False)

    def visit_Name(self, node: ast.Name) -> None:
        qualified = self.imported.get(node.id, "")
        if qualified == "pathlib" or qualified.startswith("pathlib."):
            self.report(node, f"{qualified} (pathlib is local-only, and reads gs://b as gs:/b)")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(node.func) or ""
        if name in LOCAL_CALLS or name.startswith("shutil."):
            self.report(node, f"{name}() is local-only")
        elif name in READERS_OF_FILES and not (node.args and self.is_file_object(node.args[0])):
            self.report(node, f"{name}() on a path is local-only; give it a file object from fileio / tf.io.gfile")
        self.generic_visit(node)


def scan(source: str, module: str) -> list[Finding]:
    tree = ast.parse(source, filename=module)
    scanner = _Scanner(module, _imported_names(tree))
    scanner.visit(tree)
    # One line may use the same thing twice (`Path(a) / Path(b)`): report it once.
    return sorted(set(scanner.findings), key=lambda f: (f.line, f.what))


def project_findings() -> list[Finding]:
    findings = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            module = file.relative_to(ROOT).as_posix()
            findings.extend(scan(file.read_text(encoding="utf-8"), module))
    return findings


@pytest.mark.slow
def test_file_operations_go_through_a_file_system_layer_that_handles_gs():
    not_allowed = [str(f) for f in project_findings() if (f.module, f.function) not in ALLOWED]
    assert not not_allowed, (
        "local-only file operations (data, artifacts and the pipeline root may be on gs://; use fileio / "
        "tf.io.gfile, or Beam's FileSystems in Beam; or, for a genuinely local file, add "
        "(module, function): reason to ALLOWED in tests/test_file_io_guard.py):\n  " + "\n  ".join(not_allowed)
    )


@pytest.mark.slow
def test_every_allowed_entry_still_matches_something_and_says_why():
    used = {(finding.module, finding.function) for finding in project_findings()}
    stale = [f"{module} {function}" for module, function in ALLOWED if (module, function) not in used]
    assert not stale, "ALLOWED entries that match nothing any more (remove them):\n  " + "\n  ".join(stale)
    assert all(reason.strip() for reason in ALLOWED.values())


def test_the_guard_sees_what_it_must_and_accepts_file_objects():
    source = '''
import glob as g
import io
import os.path
import numpy as np
from pathlib import Path as P
from PIL import Image
from scipy.io import wavfile
from tfx.dsl.io import fileio


def reads(path):
    with open(path) as handle:
        handle.read()
    os.path.isfile(path)
    g.glob(path)
    Image.open(path)
    np.load(path)
    return P(path)


class Reader:
    def read(self, path):
        def inner():
            return wavfile.read(path)
        return inner


def through_the_layer(path):
    with fileio.open(path, "rb") as handle:
        Image.open(handle)
    buffer = io.BytesIO()
    np.save(buffer, [1])
    wavfile.read(io.BytesIO(b""))
    return os.path.join(path, "x")
'''
    found = {(f.line, f.function, f.what.split()[0]) for f in scan(source, "example.py")}
    assert found == {
        (13, "reads", "open()"),
        (15, "reads", "os.path.isfile()"),
        (16, "reads", "glob.glob()"),
        (17, "reads", "PIL.Image.open()"),
        (18, "reads", "numpy.load()"),
        (19, "reads", "pathlib.Path"),
        (25, "Reader.read.<locals>.inner", "scipy.io.wavfile.read()"),
    }
