"""Beam pipeline arguments of the study's Beam components (DataIngest and
TFX's Evaluator): split from one shell-like string, and completed so that TFX
never packages itself for them.

TFX's BaseBeamExecutor passes non-empty arguments through
`dependency_utils.make_beam_dependency_flags`, which builds an sdist of the
installed TFX (seconds per component, every run; docs/development.md has the
measurement) unless one of DEPENDENCY_FLAGS is given. No run of this project
needs it:
- the DirectRunner runs in this Python environment (in this process, or in
  subprocesses of this interpreter) and never reads --sdk_container_image, so
  naming Beam's own default image changes nothing and tells TFX the
  dependencies are there;
- remote workers (Dataflow) need this project as well, which an sdist of TFX
  lacks: they run the project's image (`compile --image`), given as
  --sdk_container_image unless the arguments name one.

`split` is cheap (the config validates with it); `complete` imports Beam.
"""

from __future__ import annotations

import shlex
from typing import Optional

from search_algo.errors import UserError

FLAG_NAME = "--beam-pipeline-args"
# The Beam options that make TFX skip its sdist (tfx/utils/dependency_utils.py).
DEPENDENCY_FLAGS = ("extra_packages", "setup_file", "requirements_file", "sdk_container_image",
                    "worker_harness_container_image")
DIRECT_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "TestDirectRunner")


def split(text: str) -> list[str]:
    """`--a=1 --b 2` as ["--a=1", "--b", "2"], split like a shell; a
    ValueError when it cannot be split or is no list of flags (`checked`)."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"cannot split {text!r} like a shell ({error})") from None
    return checked(words)


def checked(words: list[str]) -> list[str]:
    """`words` if each is a flag or the value of the flag before it; Beam
    would drop any other word with a warning, so a ValueError here."""
    for index, word in enumerate(words):
        before = words[index - 1] if index else ""
        takes_value = before.startswith("--") and "=" not in before
        if not word.startswith("--") and not takes_value:
            raise ValueError(f"{word!r} is not a Beam flag (they start with --, e.g. --direct_num_workers=2)")
    return words


def runner(args: list[str]) -> str:
    """The runner the arguments choose, by class name (Beam's default when none)."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    name = PipelineOptions(args).view_as(StandardOptions).runner or StandardOptions.DEFAULT_RUNNER
    known = {path.rsplit(".", 1)[-1].lower(): path.rsplit(".", 1)[-1] for path in StandardOptions.ALL_KNOWN_RUNNERS}
    short = name.rsplit(".", 1)[-1]
    return known.get(short.lower()) or known.get(short.lower() + "runner") or short


def complete(args: list[str], image: Optional[str] = None) -> list[str]:
    """`args` with the dependency flag TFX looks for, so that it builds no
    sdist: `image` (the compiled pipeline's image) for any runner, else, for
    the DirectRunner, Beam's default SDK image, which it never uses. Empty
    stays empty (TFX then adds nothing). A remote runner on this machine
    without one is a UserError: its workers could not import this project."""
    if not args:
        return []
    from apache_beam.options.pipeline_options import PipelineOptions

    given = PipelineOptions(args).get_all_options(retain_unknown_options=True)
    if any(given.get(name) for name in DEPENDENCY_FLAGS):
        return list(args)
    if image:
        return [*args, f"--sdk_container_image={image}"]
    chosen = runner(args)
    if chosen not in DIRECT_RUNNERS:
        raise UserError(f"{FLAG_NAME}: the {chosen}'s workers need this project's image: add "
                        "--sdk_container_image=IMAGE (see docs/cluster.md), or compile the study with --image")
    from apache_beam.transforms.environments import DockerEnvironment

    return [*args, f"--sdk_container_image={DockerEnvironment.default_docker_image()}"]
