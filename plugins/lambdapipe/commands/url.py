"""``lambdapipe url FOLDER``: where a deployed function answers HTTP (its ``[http]`` endpoints).

Reads only: prints the base URL of each endpoint the deploy made, routes go below it
(``curl "$(lambdapipe url lambda_functions/greeting_api)/greeting?name=Ada"``).
"""

from __future__ import annotations

import argparse
import sys

from lambdapipe.commands.console import (
    add_aws_flags,
    add_verbose_flag,
    airflow_logs_to_stderr,
    exit_code_of,
    quiet_libraries,
)
from lambdapipe.packaging.http_settings import HTTP_KINDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdapipe url", description=__doc__.splitlines()[0])
    parser.add_argument(
        "function_dir", help="a lambda_functions/<name> folder whose function.toml has [http]"
    )
    parser.add_argument(
        "--api",
        choices=HTTP_KINDS,
        help="print only this endpoint's URL (default: the first in [http] apis; --all for every one)",
    )
    parser.add_argument("--all", action="store_true", help="print every endpoint as 'KIND URL'")
    parser.add_argument("--alias", help="the alias the endpoints invoke (default: the manifest's)")
    add_aws_flags(parser)
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    quiet_libraries(args.verbose)
    return exit_code_of(parser.prog, lambda: _print_urls(parser.prog, args))


def _print_urls(prog: str, args: argparse.Namespace) -> int:
    from lambdapipe.packaging import PackagingError

    with airflow_logs_to_stderr():
        from lambdapipe.deploy.deployer import FunctionDeployer
        from lambdapipe.hooks.iam import IamHook
        from lambdapipe.hooks.lambda_function import LambdaHook

        hook_args = {"aws_conn_id": args.aws_conn_id, "region_name": args.region}
        try:
            deployer = FunctionDeployer(
                function_dir=args.function_dir,
                lambda_hook=LambdaHook(**hook_args),
                iam_hook=IamHook(**hook_args),
                alias=args.alias,
            )
        except PackagingError as error:
            print(f"{prog}: {error}", file=sys.stderr)
            return 1
        http = deployer.manifest.http
        if http is None:
            print(f"{prog}: {deployer.manifest.name} has no [http] in its function.toml", file=sys.stderr)
            return 1
        wanted = args.api or http.apis[0]
        if wanted not in http.apis:
            print(
                f"{prog}: {deployer.manifest.name}'s [http] apis are {list(http.apis)}, not {wanted}",
                file=sys.stderr,
            )
            return 1
        configuration = deployer.lambda_hook.get_configuration_or_none(deployer.manifest.name)
        if configuration is None:
            print(
                f"{prog}: {deployer.manifest.name} is not deployed: lambdapipe deploy {args.function_dir}",
                file=sys.stderr,
            )
            return 1
        found = deployer.http_endpoints(f"{configuration['FunctionArn']}:{deployer.alias_name}").find()
    if args.all:
        for kind, url in found.items():
            print(f"{kind} {url}")
        return 0 if found else 1
    if wanted not in found:
        print(
            f"{prog}: no {wanted} for {deployer.manifest.name} yet: lambdapipe deploy {args.function_dir}",
            file=sys.stderr,
        )
        return 1
    print(found[wanted])
    return 0
