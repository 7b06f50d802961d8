"""Smoke tests: a function folder's saved ``events/*.json`` invoked against the version a deploy is
about to send traffic to; the first failure stops the deploy before the alias moves."""

from __future__ import annotations

import logging
from pathlib import Path

from lambdapipe.deploy.errors import DeployError
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.packaging import load_test_events

log = logging.getLogger(__name__)


class SmokeTestFailed(DeployError):
    """A saved test event failed against the new version; the alias was left where it was."""


def run_smoke_tests(
    lambda_hook: LambdaHook, function_dir: Path, function_name: str, version: str, names: bool | list[str]
) -> list[str]:
    """Invoke every saved event (``names=True``) or those named, in order; the names that passed."""
    events = load_test_events(function_dir)
    if isinstance(names, list):
        unknown = sorted(set(names) - set(events))
        if unknown:
            raise DeployError(
                f"{function_name}: smoke_test names unknown events {unknown}; have {sorted(events)}"
            )
        events = {name: events[name] for name in names}
    for name, event in events.items():
        result = lambda_hook.invoke_json(function_name, event, qualifier=version)
        if result.function_error:
            raise SmokeTestFailed(
                f"{function_name} version {version}: smoke test event {name!r} "
                f"(events/{name}.json) failed with {result.error_summary}; the alias was not moved"
            )
        log.info("%s version %s: smoke test %s passed", function_name, version, name)
    return list(events)
