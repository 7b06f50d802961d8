"""The ``lambdapipe`` command: one subcommand per job, each imported only when it runs.

``lambdapipe --help`` must stay instant, so this module imports nothing heavy: a subcommand is a
``"module:function"`` path whose function receives the remaining arguments and returns an exit code.
Adding a subcommand is one entry in ``SUBCOMMANDS``. ``lambdapipe local`` belongs to another
distribution (``lambdapipe-local``, the ``local`` extra), which adds it through the ``lambdapipe.cli``
entry-point group: the provider never imports the local stack.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

# name -> (one-line help, "module:function" taking argv and returning an exit code)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "deploy": ("deploy a lambda_functions/<name> folder idempotently", "lambdapipe.commands.deploy:main"),
    "invoke": ("invoke a deployed function with a JSON event", "lambdapipe.commands.invoke:main"),
    "tables": ("list, show and query the analytics tables", "lambdapipe.commands.tables:main"),
    "url": ("print where a deployed function answers HTTP ([http])", "lambdapipe.commands.url:main"),
}
# name -> one-line help, for subcommands other distributions provide through ENTRY_POINT_GROUP
PLUGGED_SUBCOMMANDS: dict[str, str] = {
    "local": "run the local AWS stack (Lambda functions really run; the 'local' extra)",
}
ENTRY_POINT_GROUP = "lambdapipe.cli"
MISSING_EXTRA = (
    "lambdapipe {name}: not installed. It comes with the 'local' extra: "
    "pip install 'airflow-provider-lambdapipe[local]'"
)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdapipe",
        description="Event-driven pipelines on AWS Lambda with Apache Airflow.",
        epilog="Run `lambdapipe COMMAND --help` for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {name: help_text for name, (help_text, _) in SUBCOMMANDS.items()} | PLUGGED_SUBCOMMANDS
    for name, help_text in helps.items():
        # add_help=False: `lambdapipe local --help` belongs to the subcommand's own parser.
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _plugged(name: str) -> Callable[[list[str]], int] | None:
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return entry_point.load()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the subcommand name and hand every remaining argument to its implementation."""
    args, rest = _build_parser().parse_known_args(argv)
    if args.command in SUBCOMMANDS:
        return _load(SUBCOMMANDS[args.command][1])(rest)
    command = _plugged(args.command)
    if command is None:
        print(MISSING_EXTRA.format(name=args.command), file=sys.stderr)
        return 2
    return command(rest)
