"""The study config's schema (pipeline/config_schema.py): the one place its
keys, defaults and allowed values live, and what is derived from it."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
from pathlib import Path

import pytest

from components.ingest.sources import AudioOptions, SourceConfig
from pipeline import config_docs, config_schema
from pipeline.cli import main
from pipeline.config import StudyConfig, build_config, load_config_file
from search_algo.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_the_generated_reference_and_json_schema_are_fresh():
    for name, content in config_docs.rendered().items():
        committed = ROOT / "docs" / name
        assert committed.exists(), f"docs/{name} is missing: run `make config-docs`"
        assert committed.read_text(encoding="utf-8") == content, f"docs/{name} is stale: run `make config-docs`"


def test_the_reference_lists_every_key_once():
    reference = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    keys = [key for key, _ in config_docs.rows(config_schema.StudySettings)]
    for key in keys:
        assert reference.count(f"| `{key}` |") == 1, key
    assert "objective" in keys and "audio.n_mels" in keys


# Today's defaults, read from the code before the schema existed: a change here changes every study.
TODAYS_DEFAULTS = {
    "study": None, "output": None, "seed": 0, "algorithm": "beam", "rounds": 3, "trainers": 2,
    "trials_per_trainer": 2, "epochs": 10, "time_budget": None, "time_limit": None,
    "max_retries": 2, "max_consecutive_failures": 3,
    "node_timeout": None, "search_space": {}, "module_file": None, "weight_sharing": True,
    "teacher_distillation": False, "early_stopping": "median", "ensemble_size": 5, "max_params": 0,
    "student_max_params": 0, "max_latency_ms": None, "budget_schedule": "none", "reduction_factor": 3,
    "min_epochs": None,
    "distill_epochs": 5, "distill_temperature": 2.0, "distill_alpha": 0.5, "distill_augment": "none",
    "ensemble_weights": "auto", "student": None, "select": "best", "keep": "best-10", "metadata": None,
    "runner": "local", "objective": None,
    "split_ratios": [0.8, 0.1, 0.1], "color_mode": "auto", "image_size": None, "label": None, "task": None,
}


def test_defaults_are_todays_values():
    config = build_config({"dataset": "wine"}, {})
    assert {key: getattr(config, key) for key in TODAYS_DEFAULTS} == TODAYS_DEFAULTS
    assert {key: config_schema.default_of(key) for key in TODAYS_DEFAULTS} == TODAYS_DEFAULTS


def test_run_without_flags_gets_the_schemas_defaults():
    from pipeline.commands.run import STUDY_FLAGS, register, study_config_from_args

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["run"])
    assert all(getattr(args, key) is None for key in STUDY_FLAGS), "a flag left out must not hide the config file"
    config = study_config_from_args(parser.parse_args(["run", "--dataset", "wine"]), check_local_paths=False)
    assert {key: getattr(config, key) for key in TODAYS_DEFAULTS} == TODAYS_DEFAULTS


def test_flags_take_choices_and_help_from_the_schema():
    from pipeline.commands.run import register

    subparsers = argparse.ArgumentParser().add_subparsers()
    register(subparsers)
    actions = {action.dest: action for action in subparsers.choices["run"]._actions}
    assert tuple(actions["algorithm"].choices) == ("beam", "evolution", "surrogate", "optuna_tpe", "random",
                                                   "portfolio")
    assert tuple(actions["ensemble_weights"].choices) == ("auto", "bagged", "greedy", "learned", "average")
    assert tuple(actions["early_stopping"].choices) == ("median", "none")
    assert tuple(actions["runner"].choices) == ("local", "beam")
    field = config_schema.StudySettings.model_fields["rounds"]
    assert actions["rounds"].help == f"{field.description} (default 3)"
    assert actions["split_ratios"].help.endswith("(default 0.8,0.1,0.1)")
    assert actions["keep"].help.endswith("(default best-10)")
    assert tuple(actions["objective"].choices) == ("accuracy", "log_loss", "roc_auc", "macro_f1", "rmse", "mae")


def test_the_source_keys_are_the_source_configs_and_default_alike():
    fields = {f.name for f in dataclasses.fields(SourceConfig)}
    assert set(config_schema.SOURCE_KEYS) == fields - {"seed"}
    assert build_config({}, {}).source == SourceConfig()
    assert AudioOptions(**config_schema.AudioSettings().model_dump()) == AudioOptions()
    assert build_config({"dataset": "wine", "seed": 7}, {}).source == SourceConfig(dataset="wine", seed=7)


def test_the_distillation_augmentations_are_search_algos():
    from search_algo.distillation import AUGMENTATIONS

    assert config_schema.DISTILL_AUGMENTATIONS == AUGMENTATIONS


@pytest.mark.parametrize("component, settings", [
    ("components.proposer.component.Proposer", ("weight_sharing", "teacher_distillation", "budget_schedule",
                                                "reduction_factor", "min_epochs", "max_params", "max_latency_ms")),
    ("components.trainer.component.TrialTrainer", ("max_retries", "max_consecutive_failures", "early_stopping")),
    ("components.ensembler.component.Ensembler", ("max_members", "weights_method")),
    ("components.distiller.component.Distiller", ("max_params", "temperature", "alpha", "augment")),
    ("components.evaluator.component.SearchEvaluator", ("select", "max_params", "max_latency_ms")),
])
def test_components_carry_no_second_default(component, settings):
    import importlib

    module, name = component.rsplit(".", 1)
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    for setting in settings:
        assert parameters[setting].default is inspect.Parameter.empty, f"{name}({setting}=...) has a default"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_every_example_validates(example):
    config = build_config(load_config_file(str(example)), {}, config_file=str(example))
    assert config.dataset or config.data


def _error(values, overrides=None):
    with pytest.raises(UserError) as error:
        build_config(values, overrides or {}, config_file="examples/x.yaml", flag_names={"split_ratios": "--split"})
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("values, message", [
    ({"epoch": 3}, "config examples/x.yaml: unknown key 'epoch'; did you mean 'epochs'?"),
    ({"no_such_key": 1}, "config examples/x.yaml: unknown key 'no_such_key'"),
    ({"audio": {"n_mel": 3}}, "config examples/x.yaml: unknown key 'audio.n_mel'; did you mean 'n_mels'?"),
    ({"data_source": {"seed": 3}}, "config examples/x.yaml: unknown key 'data_source.seed'"),
])
def test_an_unknown_key_is_an_error_naming_it(values, message):
    assert _error({"dataset": "wine", **values}) == message


@pytest.mark.parametrize("values, message", [
    ({"rounds": 0}, "key 'rounds': must be a positive integer, got 0"),
    ({"rounds": "two"}, "key 'rounds': must be a positive integer, got 'two'"),
    ({"epochs": 2.5}, "key 'epochs': must be a positive integer, got 2.5"),
    ({"trainers": True}, "key 'trainers': must be a positive integer, got True"),
    ({"max_retries": -1}, "key 'max_retries': must be 0 or a positive integer, got -1"),
    ({"weight_sharing": 1}, "key 'weight_sharing': must be true or false, got 1"),
    ({"time_limit": "10s"}, "key 'time_limit': must be a positive number, got '10s'"),
    ({"distill_alpha": 1.5}, "key 'distill_alpha': must be a number from 0 to 1, got 1.5"),
    ({"runner": "kubeflow"}, "key 'runner': must be local or beam, not 'kubeflow'"),
    ({"algorithm": "bayes"}, "key 'algorithm': must be one of beam, evolution, surrogate, optuna_tpe, random, portfolio, "
                             "not 'bayes'"),
    ({"objective": "f1"}, "key 'objective': must be one of accuracy, log_loss, roc_auc, macro_f1, rmse, mae, "
                          "not 'f1'"),
    ({"split_ratios": [0.8, "x", 0.1]}, "key 'split_ratios': must be three non-negative numbers [train, eval, "
                                        "test] summing to 1, the train share positive, got [0.8, 'x', 0.1]"),
    ({"image_size": [32]}, "key 'image_size': must be [height, width], two positive integers, got [32]"),
    ({"audio": {"n_mels": "many"}}, "key 'audio.n_mels': must be a positive integer, got 'many'"),
    ({"data_source": {"label": 3}}, "key 'data_source.label': must be text, got 3"),
    ({"search_space": ["dense"]}, "key 'search_space': must be a mapping (blocks, min_depth, max_depth, ...), "
                                  "got ['dense']"),
    ({"keep": "some"}, "key 'keep': must be all, members or best-K with K a positive integer (e.g. best-10), "
                       "got 'some'"),
])
def test_a_wrong_value_is_one_line_naming_the_key_and_the_file(values, message):
    assert _error({"dataset": "wine", **values}) == f"config examples/x.yaml: {message}"


def test_a_wrong_flag_value_names_the_flag():
    assert _error({"dataset": "wine"}, {"rounds": 0}) == "--rounds: must be a positive integer, got 0"
    assert _error({"dataset": "wine"}, {"split_ratios": (0.5, 0.1, 0.1)}).startswith("--split: must be three")
    # The file's value, though a flag was given for another key.
    assert _error({"dataset": "wine", "epochs": 0}, {"rounds": 3}).startswith("config examples/x.yaml: key 'epochs'")


def test_a_bad_config_file_exits_2_with_one_line(tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text("dataset: wine\nrounds: 2\nepoch: 3\n")
    assert main(["run", str(config), "--output", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"model-search: error: config {config}: unknown key 'epoch'; did you mean 'epochs'?"]


def test_values_are_normalised_for_the_components():
    config = build_config({"dataset": "wine", "time_limit": 30, "distill_temperature": 4, "keep": "Best-3",
                           "select": "Lowest-Loss", "student": {"blocks": [{"name": "dense"}]}}, {})
    assert (config.time_limit, config.distill_temperature) == (30.0, 4.0)
    assert all(isinstance(v, float) for v in (config.time_limit, config.distill_temperature))
    assert (config.keep, config.select) == ("best-3", "lowest-loss")
    assert json.loads(config.student) == {"blocks": [{"name": "dense"}]}


def test_objective_is_accepted_and_passed_through():
    assert build_config({"dataset": "wine"}, {}).objective is None
    assert build_config({"dataset": "wine", "objective": "macro_f1"}, {}).objective == "macro_f1"


def test_data_source_groups_the_data_keys_and_the_top_level_and_flags_win():
    grouped = {"data_source": {"dataset": "digits", "label": "y", "split_ratios": [0.6, 0.2, 0.2]}, "label": "z"}
    config = build_config(grouped, {"split_ratios": (0.7, 0.2, 0.1)})
    assert (config.source.dataset, config.source.label, config.source.split_ratios) == ("digits", "z", (0.7, 0.2, 0.1))


def test_a_config_made_in_code_reports_bad_values_as_user_errors():
    assert StudyConfig(study="My Study").pipeline_name == "my-study"
    with pytest.raises(UserError, match="^config: key 'keep': must be all"):
        StudyConfig(keep="some")


def test_the_json_schema_rejects_unknown_keys_and_knows_every_default():
    schema = config_schema.json_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["rounds"]["default"] == 3 and schema["properties"]["rounds"]["minimum"] == 1
    assert schema["properties"]["objective"]["default"] is None
    assert set(schema["properties"]) == set(config_schema.StudySettings.model_fields)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_an_editor_checking_with_the_json_schema_agrees(example):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((ROOT / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(yaml.safe_load(example.read_text()))] == []
    assert len(list(validator.iter_errors({"dataset": "wine", "epoch": 3, "rounds": 0}))) == 2
