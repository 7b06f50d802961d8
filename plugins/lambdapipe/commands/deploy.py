"""``lambdapipe deploy FOLDER``: the deploy DAG's code path, outside Airflow.

Credentials, region and endpoint come from the usual AWS variables (``AWS_ENDPOINT_URL`` for the
local stack) or from an Airflow connection with ``--aws-conn-id``.
"""

from __future__ import annotations

import argparse
import json
import sys

from lambdapipe.commands.console import (
    add_aws_flags,
    add_verbose_flag,
    airflow_logs_to_stderr,
    exit_code_of,
    quiet_libraries,
    show_progress,
)


def _override(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"--set takes FIELD=VALUE (got {text!r})")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdapipe deploy", description=__doc__.splitlines()[0])
    parser.add_argument("function_dir", help="a lambda_functions/<name> folder with function.toml")
    parser.add_argument("--alias", help="alias to move (default: the manifest's, else 'live')")
    parser.add_argument("--no-publish", action="store_true", help="deploy $LATEST only: no version, no alias")
    parser.add_argument("--no-smoke-test", action="store_true", help="do not invoke the saved test events")
    parser.add_argument(
        "--set",
        dest="overrides",
        type=_override,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a manifest field, e.g. --set memory=512",
    )
    parser.add_argument("--role-arn", help="use this execution role instead of managing one")
    parser.add_argument("--s3-bucket", help="bucket for packages above the 50 MB direct-upload limit")
    add_aws_flags(parser)
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    quiet_libraries(args.verbose)
    return exit_code_of(parser.prog, lambda: _print_deploy(args))


def _print_deploy(args: argparse.Namespace) -> int:
    with airflow_logs_to_stderr():
        show_progress(args.verbose)
        result = _deploy(args)
    if result is None:
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _deploy(args: argparse.Namespace) -> dict[str, object] | None:
    """The deploy's result, or None after printing why it failed."""
    from lambdapipe.deploy.deployer import DeployError, FunctionDeployer
    from lambdapipe.hooks.iam import IamHook
    from lambdapipe.hooks.lambda_function import LambdaHook
    from lambdapipe.packaging import PackagingError

    hook_args = {"aws_conn_id": args.aws_conn_id, "region_name": args.region}
    s3_hook = None
    if args.s3_bucket:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3_hook = S3Hook(**hook_args)
    try:
        result = FunctionDeployer(
            function_dir=args.function_dir,
            lambda_hook=LambdaHook(**hook_args),
            iam_hook=IamHook(**hook_args),
            overrides=dict(args.overrides),
            alias=args.alias,
            publish=not args.no_publish,
            smoke_test=not args.no_smoke_test,
            role_arn=args.role_arn,
            s3_bucket=args.s3_bucket,
            s3_hook=s3_hook,
        ).run()
    except (DeployError, PackagingError, TypeError) as error:
        print(f"lambdapipe deploy: {error}", file=sys.stderr)
        return None
    return result.to_dict()
