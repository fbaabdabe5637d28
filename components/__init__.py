"""TFX components, one per folder (`component.py` declares, `executor.py` works).

Custom artifact types are reachable as `components.<ClassName>`: Kubeflow v2
requires artifact type names of the form `module.ClassName` that import in the
container. They load lazily so that importing a light sub-module (such as the
ingestion sources) does not pay for importing TFX.
"""

_ARTIFACT_TYPES = ("DatasetSpec", "Proposals", "TrialResults", "TrialHistory", "Leaderboard")


def __getattr__(name: str):
    if name in _ARTIFACT_TYPES:
        from components import artifacts

        return getattr(artifacts, name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
