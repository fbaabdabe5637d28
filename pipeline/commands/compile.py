"""`model-search compile`: the study's pipeline as a Kubeflow v2 / Vertex AI spec."""

from __future__ import annotations

import json
import sys

from pipeline.commands.run import add_study_arguments, study_config_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile the study's pipeline for Kubeflow Pipelines v2 or Vertex AI",
        description="Write the pipeline spec (JSON) of the same DAG `run` executes, offline, with no credentials. "
        "The data path, the module file and the pipeline root must be reachable from the cluster "
        "(e.g. gs:// paths; a module file must be baked into the image). epochs, distill_epochs, seed, "
        "time_limit, time_budget and run_id are runtime parameters (`submit --param`); rounds, trainers, "
        "trials per trainer, the data and the study name shape the DAG and stay compile-time.",
    )
    add_study_arguments(parser)
    parser.add_argument("--target", required=True, choices=("kubeflow", "vertex"))
    parser.add_argument("--image", required=True, help="the component image (TFX 1.16 + this project)")
    parser.add_argument("--pipeline-root", dest="pipeline_root", required=True,
                        help="where the cluster writes artifacts, e.g. gs://bucket/model-search")
    parser.add_argument("--out", required=True, help="the pipeline spec file to write (.json)")
    resources = parser.add_argument_group("trainer resources (each trainer node of the compiled spec)")
    resources.add_argument("--trainer-cpu", dest="trainer_cpu", type=float, help="vCPUs, e.g. 4")
    resources.add_argument("--trainer-memory", dest="trainer_memory", help="memory, e.g. 16G or 512M")
    resources.add_argument("--trainer-gpus", dest="trainer_gpus", type=int, default=0, help="accelerators per trainer")
    resources.add_argument("--accelerator-type", dest="accelerator_type",
                           help="with --trainer-gpus, e.g. NVIDIA_TESLA_T4 (Vertex) or nvidia.com/gpu (Kubeflow)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    config = study_config_from_args(args, check_local_paths=False)
    from pipeline import kubeflow, quiet

    quiet.quiet_libraries(args.debug)
    resources = kubeflow.TrainerResources(
        cpu=args.trainer_cpu,
        memory_gb=kubeflow.parse_memory_gb(args.trainer_memory) if args.trainer_memory else None,
        gpus=args.trainer_gpus,
        accelerator_type=args.accelerator_type,
    )
    spec = kubeflow.compile_pipeline(config, args.target, args.image, args.pipeline_root, args.out,
                                     trainer_resources=resources)
    tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
    name = spec["pipelineSpec"]["pipelineInfo"]["name"]
    parameters = sorted(spec["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {}))
    summary = {"out": args.out, "target": args.target, "pipeline": name, "tasks": tasks,
               "runtime_parameters": parameters}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"wrote {args.out}: pipeline {summary['pipeline']} with {len(tasks)} tasks for {args.target}")
    return 0
