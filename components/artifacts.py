"""Custom artifact types. Each TYPE_NAME is `components.<ClassName>`, the
importable path Kubeflow v2 needs (see components/__init__.py)."""

from tfx.types import artifact


class DatasetSpec(artifact.Artifact):
    """What the data is: task, label, classes, features, shapes, statistics.

    Files: `{uri}/dataset_spec.json` (search_algo.dataset_spec.DatasetSpec).
    Custom properties: name, task, input_kind, label, num_classes, num_features.
    """

    TYPE_NAME = "components.DatasetSpec"


class Proposals(artifact.Artifact):
    """One round's proposed trials (status `proposed`, each assigned to a trainer).

    Files: `{uri}/proposals.json`. Custom properties: `trials_json` (the same
    list), round, run_id, study, algorithm, count.
    """

    TYPE_NAME = "components.Proposals"


class TrialResults(artifact.Artifact):
    """One trainer's trained trials, completed or failed.

    Files: `{uri}/trials.json` and, per completed trial, `{uri}/<trial_id>/`
    with `model.weights.h5` (weights and optimizer state), `history.json`
    and, written last, `trial.json`; no SavedModel (components/trial_model.py
    exports the one a post-search node picks). Custom properties:
    `trials_json` (every trial record, so ML Metadata alone answers queries),
    round, trainer, run_id, study, completed, failed, best_score.
    """

    TYPE_NAME = "components.TrialResults"


class TrialHistory(artifact.Artifact):
    """The study's trials from its earlier runs, as this run found them when it
    started, and this run's id.

    Files: `{uri}/trials.json` (every earlier trial, with absolute paths; a
    file, not a property, since a long study holds thousands). Custom
    properties: run_id (this run), study, count, runs (earlier runs).
    """

    TYPE_NAME = "components.TrialHistory"


class Leaderboard(artifact.Artifact):
    """The candidates (best single, ensemble, distilled), scored on eval and test.

    Files: `{uri}/leaderboard.json`. Custom properties: chosen, run_id, study,
    `leaderboard_json`.
    """

    TYPE_NAME = "components.Leaderboard"
