"""`create_pipeline(...)`: the study's TFX pipeline, shaped as DESIGN.md draws it.

    ingest, StudyHistory -> Proposer(1) -> Trainer(1,1..N) -> Proposer(2) -> ... -> Trainer(R,N)
           -> Ensembler -> Distiller -> SearchEvaluator -> Evaluator (TFMA) -> Pusher

The study's earlier runs reach this run through the study record under the
pipeline root (components/study_record.py), never through an ML Metadata
query, so the same DAG runs locally, on Kubeflow and on Vertex AI, where no
component can reach ML Metadata: StudyHistory reads the earlier trials once,
Trainers record each finished trial, the SearchEvaluator finds the model in
production (the Evaluator's baseline) and the Pusher records whether it
replaced it. Each Proposer takes the TrialResults of every earlier trainer of
this run as inputs (`history_0..k`), so its cache key changes when history
does. Fan-in nodes take one input per trainer (`trials_0..k`), which
Kubeflow v2 compiles (union channels do not).
"""

from __future__ import annotations

import os
from typing import Optional, Union

from tfx.orchestration import data_types, pipeline as tfx_pipeline

from components.distiller.component import Distiller
from components.ensembler.component import Ensembler
from components.evaluator.component import SearchEvaluator
from components.ingest.component import DataIngest
from components.ingest.fingerprint import input_fingerprint
from components.proposer.component import Proposer
from components.pusher.component import StudyPusher
from components.study_history.component import StudyHistory
from components.study_record import record_root
from components.trainer.component import TrialTrainer
from components.validator.component import ModelValidator
from pipeline import beam_args, metadata_uri
from pipeline.code_version import code_version
from pipeline.config import StudyConfig

SERVING_DIR = "serving"
TENSORBOARD_DIR = "tensorboard"
STUDY_HISTORY_ID = "StudyHistory"


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "pipeline_root")


def metadata_connection_config(config: StudyConfig, create: bool = True):
    """SQLite in the run directory by default; `--metadata` takes a SQLite path
    or `mysql://user:password@host:port/database` (pipeline/metadata_uri.py).
    Without `create` the store must exist already (commands that read a study)."""
    return metadata_uri.connection_config(config.metadata, metadata_path(os.path.abspath(config.output_dir)),
                                          create=create)


def metadata_location(config: StudyConfig) -> str:
    """Where the study's ML Metadata is, fit to show: `--metadata` with its
    password hidden, or the SQLite file in the run directory."""
    if config.metadata:
        return metadata_uri.redacted(config.metadata)
    return metadata_path(os.path.abspath(config.output_dir))


def trainer_id(round_index: int, trainer: int) -> str:
    return f"Trainer_r{round_index}_t{trainer}"


def student_budget(student_max_params: int, max_params: int) -> int:
    """The Distiller's budget: the student's own, never above the study's
    limit; 0 lets the Distiller take half the best single model (which is
    within the limit itself)."""
    if max_params and student_max_params:
        return min(student_max_params, max_params)
    return student_max_params


def proposer_id(round_index: int) -> str:
    return f"Proposer_r{round_index}"


def create_pipeline(
    config: StudyConfig,
    run_id: Union[str, data_types.RuntimeParameter],
    enable_cache: bool = True,
    connection_config=None,
    root: Optional[str] = None,
    serving_dir: Optional[str] = None,
    code_version_override: Optional[str] = None,
    runtime_parameters: Optional[dict] = None,
    read_remote_data: bool = True,
    image: Optional[str] = None,
) -> tfx_pipeline.Pipeline:
    """The study's pipeline for run `run_id` (a RuntimeParameter in compiled
    pipelines, where empty means "derive one per run").

    `runtime_parameters` maps "epochs", "distill_epochs", "seed",
    "time_limit" and "time_budget" to TFX RuntimeParameters that replace the config's values
    (compiled pipelines). `read_remote_data=False` fingerprints remote data by
    its location alone (compiling is offline). `image` is the compiled
    pipeline's image, which remote Beam workers run too (pipeline/beam_args.py).
    """
    overrides = runtime_parameters or {}
    epochs = overrides.get("epochs", config.epochs)
    distill_epochs = overrides.get("distill_epochs", config.distill_epochs)
    seed = overrides.get("seed", config.seed)
    time_limit = overrides.get("time_limit", config.time_limit)
    # The run's wall-clock budget (search_algo/time_budget.py): its clock is
    # the StudyHistory node's stamp, which every node below reads from its
    # `study_history` input, wherever it runs.
    time_budget = overrides.get("time_budget", config.time_budget)
    output_dir = os.path.abspath(config.output_dir)
    # Locally DIR/tensorboard; on a cluster beside the pipeline's artifacts.
    tensorboard_root = f"{root.rstrip('/')}/tensorboard" if root else os.path.join(output_dir, TENSORBOARD_DIR)
    root = root or pipeline_root(output_dir)
    serving_dir = serving_dir or os.path.join(output_dir, SERVING_DIR)
    version = code_version_override or code_version(config.module_file)
    module_file = os.path.abspath(config.module_file) if config.module_file else None
    study = config.study_name
    # Named like the pipeline: a study name may hold anything, a path segment may not.
    study_record = record_root(root, config.pipeline_name)

    # For the Beam components alone (DataIngest, the Evaluator): pipeline-level
    # args would reach every task of a compiled spec.
    beam = beam_args.complete(config.beam_pipeline_args or [], image=image)
    ingest = DataIngest(source=config.source,
                        input_fingerprint=input_fingerprint(config.source, read_remote=read_remote_data)
                        ).with_beam_pipeline_args(beam)
    examples, dataset_spec = ingest.outputs["examples"], ingest.outputs["dataset_spec"]
    study_history = StudyHistory(run_id=run_id, study=study, study_record=study_record,
                                 code_version=version).with_id(STUDY_HISTORY_ID)
    earlier = study_history.outputs["history"]
    components = [ingest, study_history]

    history = []
    for round_index in range(1, config.rounds + 1):
        # The later rounds' Proposers and trainers: under a time budget they run
        # after the search, if only to pass through (search_algo/time_budget.py).
        nodes_after = (config.rounds - round_index) * (1 + config.trainers)
        proposer = Proposer(
            dataset_spec=dataset_spec,
            study_history=earlier,
            history=list(history),
            round_index=round_index,
            study=study,
            algorithm=config.algorithm,
            num_trainers=config.trainers,
            trials_per_trainer=config.trials_per_trainer,
            seed=seed,
            search_space=config.search_space,
            code_version=version,
            module_file=module_file,
            weight_sharing=config.weight_sharing,
            teacher_distillation=config.teacher_distillation,
            epochs=epochs,
            budget_schedule=config.budget_schedule,
            reduction_factor=config.reduction_factor,
            min_epochs=config.min_epochs,
            max_params=config.max_params,
            max_latency_ms=config.max_latency_ms,
            objective=config.objective,
            time_budget_seconds=time_budget,
            nodes_after=nodes_after,
        ).with_id(proposer_id(round_index))
        components.append(proposer)
        before_this_round = list(history)
        for trainer in range(config.trainers):
            node = TrialTrainer(
                examples=examples,
                dataset_spec=dataset_spec,
                proposals=proposer.outputs["proposals"],
                study_history=earlier,
                history=before_this_round,
                trainer_index=trainer,
                epochs=epochs,
                time_limit_seconds=time_limit,
                trial_cache_root=f"{root.rstrip('/')}/TrialCache/{study}",
                code_version=version,
                module_file=module_file,
                tensorboard_root=tensorboard_root,
                study_record=study_record,
                max_retries=config.max_retries,
                max_consecutive_failures=config.max_consecutive_failures,
                early_stopping=config.early_stopping,
                objective=config.objective,
                time_budget_seconds=time_budget,
                nodes_after=nodes_after,
            ).with_id(trainer_id(round_index, trainer))
            components.append(node)
            history.append(node.outputs["trials"])

    ensembler = Ensembler(
        examples=examples,
        dataset_spec=dataset_spec,
        study_history=earlier,
        trials=history,
        max_members=config.ensemble_size,
        weights_method=config.ensemble_weights,
        objective=config.objective,
        code_version=version,
        time_budget_seconds=time_budget,
    )
    distiller = Distiller(
        examples=examples,
        dataset_spec=dataset_spec,
        teacher=ensembler.outputs["model"],
        study_history=earlier,
        trials=history,
        epochs=distill_epochs,
        temperature=config.distill_temperature,
        alpha=config.distill_alpha,
        augment=config.distill_augment,
        max_params=student_budget(config.student_max_params, config.max_params),
        seed=seed,
        code_version=version,
        module_file=module_file,
        student=config.student,
        objective=config.objective,
        time_budget_seconds=time_budget,
    )
    evaluator = SearchEvaluator(
        examples=examples,
        dataset_spec=dataset_spec,
        ensemble=ensembler.outputs["model"],
        distilled=distiller.outputs["model"],
        study_history=earlier,
        trials=history,
        study=study,
        code_version=version,
        select=config.select,
        max_params=config.max_params,
        max_latency_ms=config.max_latency_ms,
        objective=config.objective,
        study_record=study_record,
    )
    # The chosen model must do at least as well as the study's model in
    # production, which the SearchEvaluator found in the study record.
    validator = ModelValidator(examples=examples, model=evaluator.outputs["chosen_model"]).with_id(
        "Evaluator").with_beam_pipeline_args(beam)
    pusher = StudyPusher(
        model=evaluator.outputs["chosen_model"],
        model_blessing=validator.outputs["blessing"],
        serving_dir=serving_dir,
        study_record=study_record,
    ).with_id("Pusher")
    components += [ensembler, distiller, evaluator, validator, pusher]
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=connection_config,
    )
