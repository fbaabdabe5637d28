"""Trials whose files were removed (`path` None, see `model-search gc`) stay
history but are never loaded: no student, no ensemble member, no parent."""

from __future__ import annotations

from components.distiller.executor import choose_student
from search_algo.architecture import Architecture
from search_algo.dataset_spec import DatasetSpec, FeatureSpec
from search_algo.model_builder import build_model, parameter_count
from search_algo.proposals import proposal_trials
from search_algo.trial import Trial

ARCH = Architecture.from_dict({"blocks": [{"name": "dense"}]})
SPEC = DatasetSpec(name="t", task="classification", input_kind="tabular", label="label", label_display_name="label",
                   features=[FeatureSpec("x", "x", "numeric", "float32", [1])], class_names=["a", "b"])


def trial(trial_id: str, accuracy: float, path: str | None) -> Trial:
    return Trial(trial_id, 1, 0, ARCH, seed=1, algorithm="beam", run_id="run1", study="t", status="completed",
                 metrics={"accuracy": accuracy}, num_params=parameter_count(build_model(ARCH, SPEC, compile=False)),
                 epochs=1, path=path)


def test_the_student_is_never_a_trial_whose_files_were_removed():
    trials = [trial("run1-r1-00", 0.95, None), trial("run1-r1-01", 0.90, "/files/run1-r1-01")]
    choice = choose_student(trials, SPEC, max_params=1000)
    assert choice.source == "search" and choice.trial.trial_id == "run1-r1-01"


def test_a_child_of_a_removed_parent_does_not_share_its_weights():
    from search_algo.algorithms import Candidate

    history = [trial("run1-r1-00", 0.95, None)]
    (child,) = proposal_trials([Candidate(ARCH, parent="run1-r1-00", transfer="weights")], history, study="t",
                               run_id="run2", round_index=1, trials_per_trainer=1, seed=0, algorithm="beam",
                               objective="classification")
    assert child.parent == "run1-r1-00" and child.transfer == "none"
