"""Two tiny components that record which process ran them (for the runner's tests).

They live in an importable module: the runner's worker processes import them by name.
(No `from __future__ import annotations`: TFX reads the annotations as types.)"""


import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts


@component
def FirstPid(pid: OutputArtifact[standard_artifacts.ExternalArtifact]) -> None:
    os.makedirs(pid.uri, exist_ok=True)
    with open(os.path.join(pid.uri, "pid"), "w") as out:
        out.write(str(os.getpid()))


@component
def SecondPid(previous: InputArtifact[standard_artifacts.ExternalArtifact],
              pid: OutputArtifact[standard_artifacts.ExternalArtifact]) -> None:
    os.makedirs(pid.uri, exist_ok=True)
    with open(os.path.join(pid.uri, "pid"), "w") as out:
        out.write(str(os.getpid()))
