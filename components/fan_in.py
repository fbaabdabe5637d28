"""Fan-in that compiles for Kubeflow v2: one input per upstream channel.

Kubeflow v2 rejects union channels ("Only single Channel is supported"), so a
component that must see k upstream outputs gets a spec generated with inputs
`<prefix>_0 .. <prefix>_{k-1}`.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence, Type

from tfx import types
from tfx.types import component_spec


def spec_with_fan_in(
    base: Type[component_spec.ComponentSpec], prefix: str, count: int, artifact_type: Type[types.Artifact]
) -> Type[component_spec.ComponentSpec]:
    """A subclass of `base` whose INPUTS also hold `prefix_0 .. prefix_{count-1}`."""
    inputs = dict(base.INPUTS)
    for index in range(count):
        inputs[f"{prefix}_{index}"] = component_spec.ChannelParameter(type=artifact_type)
    return type(f"{base.__name__}With{count}", (base,), {"INPUTS": inputs})


def fan_in_channels(prefix: str, channels: Sequence[types.BaseChannel]) -> dict[str, types.BaseChannel]:
    return {f"{prefix}_{index}": channel for index, channel in enumerate(channels)}


def fan_in_artifacts(prefix: str, input_dict: Mapping[str, list]) -> list:
    """Every artifact on the `prefix_<i>` inputs, in index order."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
    keys = sorted((int(m.group(1)), key) for key in input_dict if (m := pattern.match(key)))
    return [item for _, key in keys for item in input_dict[key]]
