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
        "(e.g. gs:// paths; a module file must be baked into the image).",
    )
    add_study_arguments(parser)
    parser.add_argument("--target", required=True, choices=("kubeflow", "vertex"))
    parser.add_argument("--image", required=True, help="the component image (TFX 1.16 + this project)")
    parser.add_argument("--pipeline-root", dest="pipeline_root", required=True,
                        help="where the cluster writes artifacts, e.g. gs://bucket/model-search")
    parser.add_argument("--out", required=True, help="the pipeline spec file to write (.json)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON on stdout")
    parser.set_defaults(handler=run)


def run(args) -> int:
    config = study_config_from_args(args, check_local_paths=False)
    from pipeline import kubeflow, local_runner

    local_runner.quiet_libraries(args.debug)
    spec = kubeflow.compile_pipeline(config, args.target, args.image, args.pipeline_root, args.out)
    tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
    name = spec["pipelineSpec"]["pipelineInfo"]["name"]
    summary = {"out": args.out, "target": args.target, "pipeline": name, "tasks": tasks}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"wrote {args.out}: pipeline {summary['pipeline']} with {len(tasks)} tasks for {args.target}")
    return 0
