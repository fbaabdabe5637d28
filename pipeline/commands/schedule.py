"""`model-search schedule`: a recurring run of a compiled spec (Kubeflow recurring run / Vertex schedule)."""

from __future__ import annotations

from pipeline.commands.submit import add_target_arguments, check_target, print_result


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "schedule",
        help="create a recurring run of a compiled spec on Kubeflow Pipelines or Vertex AI (cron)",
        description="Schedule the spec `model-search compile` wrote. Every scheduled run gets its own run id "
        "(and so its own trial ids) unless --param run_id=... fixes one: on Kubeflow KFP's [[RunUUID]] macro, on "
        "Vertex AI one derived by the run itself (the compiled default, empty, means exactly that).",
    )
    add_target_arguments(parser)
    parser.add_argument("--cron", required=True,
                        help="when to run: Kubeflow takes 6 fields with seconds ('0 0 3 * * *'), "
                        "Vertex 5 fields ('0 3 * * *', optionally prefixed TZ=Area/City)")
    parser.add_argument("--name", help="the schedule's name (default <pipeline>-<UTC time>-<random>)")
    parser.add_argument("--max-concurrency", dest="max_concurrency", type=int, default=1,
                        help="scheduled runs at once (default 1)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pipeline import submission
    from search_algo.errors import UserError

    check_target(args)
    if args.max_concurrency < 1:
        raise UserError("--max-concurrency must be at least 1")
    spec = submission.load_spec(args.spec)
    name = args.name or submission.default_run_name(spec)
    parameters = submission.parse_parameters(spec, args.param)
    root = args.pipeline_root or spec.default_root
    if args.target == "kubeflow":
        parameters = submission.with_run_id(spec, parameters, submission.KFP_RUN_UUID_MACRO)
        if args.dry_run:
            print_result(submission.kfp_recurring_run_request(
                spec, args.host or "http://KFP_HOST", args.experiment, name, parameters, root, args.cron,
                args.max_concurrency), True, "")
            return 0
        result = submission.kfp_schedule(spec, args.host, args.experiment, name, parameters, root, args.cron,
                                         args.max_concurrency)
        print_result(result, args.json, f"created recurring run {result['recurring_run_id']} ({name}) on {args.host}")
        return 0
    # Vertex AI substitutes nothing in a schedule's parameters: an empty run id
    # makes each scheduled run derive its own (components/study_history).
    parameters = submission.with_run_id(spec, parameters, "")
    if args.dry_run:
        request = submission.vertex_create_schedule_request(spec, args.project, args.region, name, parameters, root,
                                                            args.cron, args.max_concurrency)
        print_result(submission.vertex_dry_run(request, "CreateSchedule"), True, "")
        return 0
    result = submission.vertex_schedule(spec, args.project, args.region, name, parameters, root, args.cron,
                                        args.max_concurrency)
    print_result(result, args.json, f"created schedule {result['schedule']}")
    return 0
