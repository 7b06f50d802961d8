"""``lambdapipe invoke NAME --event FILE``: invoke a deployed function with a saved test event."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lambdapipe.commands.console import (
    add_aws_flags,
    add_verbose_flag,
    airflow_logs_to_stderr,
    exit_code_of,
    quiet_libraries,
)


def _event(value: str) -> object:
    """A JSON file path, or inline JSON; the error says which of the two went wrong."""
    inline = value.lstrip().startswith(("{", "[", '"'))
    path = Path(value)
    if not inline and _is_file(path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"--event {value}: not valid JSON: {error}") from None
    try:
        return json.loads(value)
    except ValueError as error:
        if not inline and (path.suffix == ".json" or "/" in value):
            raise argparse.ArgumentTypeError(f"--event {value}: no such file") from None
        raise argparse.ArgumentTypeError(f"--event: neither a file nor valid JSON: {error}") from None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long to be a file: inline JSON
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambdapipe invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function_name", help="function name, name:alias or ARN")
    parser.add_argument(
        "--event", type=_event, default={}, help="JSON file (e.g. events/x.json) or inline JSON"
    )
    parser.add_argument("--qualifier", help="version or alias")
    parser.add_argument("--log", action="store_true", help="print the last 4 KB of the function's log")
    add_aws_flags(parser)
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    quiet_libraries(args.verbose)
    return exit_code_of(parser.prog, lambda: _invoke(args))


def _invoke(args: argparse.Namespace) -> int:
    with airflow_logs_to_stderr():
        from lambdapipe.hooks.lambda_function import LambdaHook

        hook = LambdaHook(aws_conn_id=args.aws_conn_id, region_name=args.region)
        result = hook.invoke_json(args.function_name, args.event, qualifier=args.qualifier)
    if args.log and result.log_tail:
        print(result.log_tail, file=sys.stderr)
    try:
        print(json.dumps(result.json(), indent=2))
    except ValueError:  # a function may answer with any bytes; show them as text
        print(result.payload.decode("utf-8", "replace"))
    if result.function_error:
        print(f"lambdapipe invoke: {args.function_name} failed: {result.error_summary}", file=sys.stderr)
        return 1
    return 0
