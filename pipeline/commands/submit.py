"""`model-search submit`: start one run of a compiled spec on Kubeflow Pipelines or Vertex AI."""

from __future__ import annotations

import json
import sys


def add_target_arguments(parser) -> None:
    """Arguments `submit` and `schedule` share."""
    parser.add_argument("spec", help="the pipeline spec written by `model-search compile` (.json)")
    parser.add_argument("--target", required=True, choices=("kubeflow", "vertex"))
    parser.add_argument("--host", help="Kubeflow Pipelines API endpoint, e.g. http://localhost:8080 (kubeflow)")
    parser.add_argument("--experiment", default="model-search", help="Kubeflow experiment (default model-search)")
    parser.add_argument("--project", help="Google Cloud project (vertex)")
    parser.add_argument("--region", help="Vertex AI region, e.g. europe-west4 (vertex)")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE", default=[],
                        help="a runtime parameter of the spec (repeatable); see the spec's root inputDefinitions")
    parser.add_argument("--pipeline-root", dest="pipeline_root",
                        help="override the pipeline root compiled into the spec")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true",
                        help="print the request that would be sent (JSON) and send nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def check_target(args) -> None:
    from search_algo.errors import UserError

    if args.target == "kubeflow" and not args.host and not args.dry_run:
        raise UserError("--target kubeflow needs --host URL (the Kubeflow Pipelines API endpoint)")
    if args.target == "vertex" and not (args.project and args.region):
        raise UserError("--target vertex needs --project P and --region R")


def print_result(result: dict, as_json: bool, summary: str) -> None:
    if as_json:
        json.dump(result, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(summary)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="start a run of a compiled spec on Kubeflow Pipelines or Vertex AI",
        description="Submit the spec `model-search compile` wrote, with runtime parameter values. "
        "The run id parameter defaults to the run name, so trial ids stay distinct across runs.",
    )
    add_target_arguments(parser)
    parser.add_argument("--run-name", dest="run_name",
                        help="run name / Vertex job id (default <pipeline>-<UTC time>-<random>, unique)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pipeline import submission

    check_target(args)
    spec = submission.load_spec(args.spec)
    run_name = args.run_name or submission.default_run_name(spec)
    parameters = submission.with_run_id(spec, submission.parse_parameters(spec, args.param), run_name)
    root = args.pipeline_root or spec.default_root
    if args.target == "kubeflow":
        if args.dry_run:
            request = submission.kfp_run_request(spec, args.host or "http://KFP_HOST", args.experiment, run_name,
                                                 parameters, root)
            print_result(request, True, "")
            return 0
        result = submission.kfp_submit(spec, args.host, args.experiment, run_name, parameters, root)
        print_result(result, args.json, f"submitted run {result['run_id']} ({run_name}) to {args.host}")
        return 0
    if args.dry_run:
        request = submission.vertex_create_job_request(spec, args.project, args.region, run_name, parameters, root)
        print_result(submission.vertex_dry_run(request, "CreatePipelineJob"), True, "")
        return 0
    result = submission.vertex_submit(spec, args.project, args.region, run_name, parameters, root)
    print_result(result, args.json, f"submitted {result['pipeline_job']}")
    return 0
