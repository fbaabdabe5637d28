"""Custom artifact types. Each TYPE_NAME is `components.<ClassName>`, the
importable path Kubeflow v2 needs (see components/__init__.py)."""

from tfx.types import artifact


class DatasetSpec(artifact.Artifact):
    """What the data is: task, label, classes, features, shapes, statistics.

    Files: `{uri}/dataset_spec.json` (search_algo.dataset_spec.DatasetSpec).
    Custom properties: name, task, input_kind, label, num_classes, num_features.
    """

    TYPE_NAME = "components.DatasetSpec"
