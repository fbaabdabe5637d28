"""`create_pipeline(...)`: the study's TFX pipeline, shaped as DESIGN.md draws it.

    ingest -> Proposer(1) -> Trainer(1,1..N) -> Proposer(2) -> ... -> Trainer(R,N)
           -> Ensembler -> Distiller -> SearchEvaluator -> Evaluator (TFMA) -> Pusher

Each Proposer takes the TrialResults of every earlier trainer as inputs
(`history_0..k`), so its cache key changes when history does and the same DAG
runs where no component can reach ML Metadata. Fan-in nodes take one input
per trainer (`trials_0..k`), which Kubeflow v2 compiles (union channels do not).
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse

from tfx.components import Pusher
from tfx.dsl.components.common import resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.types import Channel, standard_artifacts
from tfx.orchestration import metadata, pipeline as tfx_pipeline
from tfx.proto import pusher_pb2

from components.distiller.component import Distiller
from components.ensembler.component import Ensembler
from components.evaluator.component import SearchEvaluator
from components.ingest.component import DataIngest
from components.ingest.sources import SourceConfig
from components.proposer.component import Proposer
from components.study_history import earlier_runs_resolver
from components.trainer.component import TrialTrainer
from components.validator.component import ModelValidator
from pipeline.code_version import code_version
from pipeline.config import StudyConfig
from search_algo.errors import UserError

BUILTIN_PACKAGES = ("mnist1d", "scikit-learn", "numpy")
SERVING_DIR = "serving"
TENSORBOARD_DIR = "tensorboard"


def input_fingerprint(source: SourceConfig) -> str:
    """Identifies the input's content cheaply (paths, sizes, modification times,
    as TFX's file-based ExampleGen driver does); built-ins by package versions."""
    digest = hashlib.sha256()
    if source.dataset:
        for package in BUILTIN_PACKAGES:
            digest.update(f"{package}={importlib_metadata.version(package)};".encode())
    for location in filter(None, (source.data, source.test_data)):
        paths = sorted(Path().glob(location)) if any(c in location for c in "*?[") else [Path(location)]
        for path in paths:
            files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
            for file in files:
                stat = file.stat() if file.exists() else None
                digest.update(f"{file}:{stat and stat.st_size}:{stat and stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def metadata_path(output_dir: str) -> str:
    return os.path.join(output_dir, "metadata.sqlite")


def pipeline_root(output_dir: str) -> str:
    return os.path.join(output_dir, "pipeline_root")


def metadata_connection_config(config: StudyConfig):
    """SQLite in the run directory by default; `--metadata` takes a SQLite path
    or `mysql://user:password@host:port/database`."""
    uri = config.metadata
    if not uri:
        return metadata.sqlite_metadata_connection_config(metadata_path(os.path.abspath(config.output_dir)))
    parsed = urlparse(uri)
    if parsed.scheme == "mysql":
        if not parsed.hostname or not parsed.path.strip("/"):
            raise UserError(f"--metadata {uri!r}: expected mysql://user:password@host:port/database")
        return metadata.mysql_metadata_connection_config(
            host=parsed.hostname,
            port=parsed.port or 3306,
            database=parsed.path.strip("/"),
            username=unquote(parsed.username or "root"),
            password=unquote(parsed.password or ""),
        )
    if parsed.scheme in ("", "sqlite", "file"):
        path = parsed.path if parsed.scheme else uri
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return metadata.sqlite_metadata_connection_config(os.path.abspath(path))
    raise UserError(f"--metadata {uri!r}: use a SQLite file path or mysql://user:password@host:port/database")


def trainer_id(round_index: int, trainer: int) -> str:
    return f"Trainer_r{round_index}_t{trainer}"


def proposer_id(round_index: int) -> str:
    return f"Proposer_r{round_index}"


def create_pipeline(
    config: StudyConfig,
    run_id: str,
    enable_cache: bool = True,
    with_history: bool = True,
    connection_config=None,
    root: Optional[str] = None,
    serving_dir: Optional[str] = None,
    code_version_override: Optional[str] = None,
    runtime_parameters: Optional[dict] = None,
) -> tfx_pipeline.Pipeline:
    """The study's pipeline for run `run_id`.

    `with_history` adds the Resolver that feeds earlier runs' trials to the
    first Proposer and the Ensembler (needs ML Metadata at run time).
    `runtime_parameters` maps "epochs", "distill_epochs" and "seed" to TFX
    RuntimeParameters that replace the config's values (compiled pipelines).
    """
    overrides = runtime_parameters or {}
    epochs = overrides.get("epochs", config.epochs)
    distill_epochs = overrides.get("distill_epochs", config.distill_epochs)
    seed = overrides.get("seed", config.seed)
    output_dir = os.path.abspath(config.output_dir)
    # Locally DIR/tensorboard; on a cluster beside the pipeline's artifacts.
    tensorboard_root = f"{root.rstrip('/')}/tensorboard" if root else os.path.join(output_dir, TENSORBOARD_DIR)
    root = root or pipeline_root(output_dir)
    serving_dir = serving_dir or os.path.join(output_dir, SERVING_DIR)
    version = code_version_override or code_version(config.module_file)
    module_file = os.path.abspath(config.module_file) if config.module_file else None
    study = config.study_name

    ingest = DataIngest(source=config.source, input_fingerprint=input_fingerprint(config.source))
    examples, dataset_spec = ingest.outputs["examples"], ingest.outputs["dataset_spec"]
    components = [ingest]
    prior = None
    if with_history:
        history_resolver = earlier_runs_resolver(run_id)
        components.append(history_resolver)
        prior = history_resolver.outputs["trials"]

    history = []
    for round_index in range(1, config.rounds + 1):
        proposer = Proposer(
            dataset_spec=dataset_spec,
            history=list(history),
            prior_trials=prior,
            round_index=round_index,
            run_id=run_id,
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
            early_stopping=config.early_stopping,
        ).with_id(proposer_id(round_index))
        components.append(proposer)
        for trainer in range(config.trainers):
            node = TrialTrainer(
                examples=examples,
                dataset_spec=dataset_spec,
                proposals=proposer.outputs["proposals"],
                trainer_index=trainer,
                epochs=epochs,
                time_limit_seconds=config.time_limit,
                trial_cache_root=f"{root.rstrip('/')}/TrialCache/{study}",
                code_version=version,
                module_file=module_file,
                tensorboard_root=tensorboard_root,
            ).with_id(trainer_id(round_index, trainer))
            components.append(node)
            history.append(node.outputs["trials"])

    ensembler = Ensembler(
        examples=examples,
        dataset_spec=dataset_spec,
        trials=history,
        prior_trials=prior,
        max_members=config.ensemble_size,
        weights_method=config.ensemble_weights,
        code_version=version,
    )
    distiller = Distiller(
        examples=examples,
        dataset_spec=dataset_spec,
        teacher=ensembler.outputs["model"],
        trials=history,
        prior_trials=prior,
        epochs=distill_epochs,
        temperature=config.distill_temperature,
        alpha=config.distill_alpha,
        augment=config.distill_augment,
        max_params=config.max_params,
        seed=seed,
        code_version=version,
        module_file=module_file,
        student=config.student,
    )
    evaluator = SearchEvaluator(
        examples=examples,
        dataset_spec=dataset_spec,
        ensemble=ensembler.outputs["model"],
        distilled=distiller.outputs["model"],
        trials=history,
        prior_trials=prior,
        run_id=run_id,
        study=study,
        code_version=version,
        select=config.select,
    )
    # The chosen model must do at least as well as the latest blessed model of
    # the study's earlier runs (needs ML Metadata at run time, like the history).
    baseline = None
    if with_history:
        baseline_resolver = resolver.Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model")
        components.append(baseline_resolver)
        baseline = baseline_resolver.outputs["model"]
    validator = ModelValidator(
        examples=examples, model=evaluator.outputs["chosen_model"], baseline_model=baseline
    ).with_id("Evaluator")
    pusher = Pusher(
        model=evaluator.outputs["chosen_model"],
        model_blessing=validator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    )
    components += [ensembler, distiller, evaluator, validator, pusher]
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=(
            connection_config if connection_config is not None or not with_history
            else metadata_connection_config(config)
        ),
        # Empty on purpose: any flag makes each Beam component build an sdist first.
        beam_pipeline_args=[],
    )
