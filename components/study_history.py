"""The study's earlier runs as a Resolver: their trials feed this run's first
Proposer (and the Ensembler), so a second run of a study continues its search.

Needs ML Metadata at run time, so it is part of local and Kubeflow runs; a
pipeline compiled for Vertex AI starts each run from its own trials.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver

from components import artifacts

TRIALS_KEY = "trials"


class EarlierRunsStrategy(resolver.ResolverStrategy):
    """Every live TrialResults artifact of the pipeline whose run is not this one."""

    def __init__(self, run_id: str):
        self._run_id = run_id

    def resolve_artifacts(
        self, store, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        earlier = [
            item
            for item in input_dict.get(TRIALS_KEY, [])
            if item.mlmd_artifact.state == metadata_store_pb2.Artifact.LIVE
            and item.get_string_custom_property("run_id") != self._run_id
        ]
        earlier.sort(key=lambda item: item.id)
        return {TRIALS_KEY: earlier}


def earlier_runs_resolver(run_id: str) -> resolver.Resolver:
    return resolver.Resolver(
        strategy_class=EarlierRunsStrategy,
        config={"run_id": run_id},
        trials=types.Channel(type=artifacts.TrialResults),
    ).with_id("study_history")
