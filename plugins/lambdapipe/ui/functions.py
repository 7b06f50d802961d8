"""The functions lambdapipe manages as Lambda reports them: configuration, aliases and their versions.

Read through the view's AWS connection, so against ``lambdapipe local`` the view shows the local
stack and on AWS the account's functions. Only functions carrying the tag deploys set count as
managed: the view is no window onto the account's other functions. Three calls per function (the
function with its tags, aliases, versions) and no account-wide listing: the names come from the DAGs.
The last deploy is read from the same calls, so it shows whichever path deployed the function.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from lambdapipe.deploy.traffic_shift import DESCRIPTION_PREFIX
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.packaging.lambda_api import MANAGED_TAG, MANAGED_TAG_VALUE
from lambdapipe.ui.aws_config import ui_botocore_config


class FunctionNotFound(LookupError):
    """No function of that name that lambdapipe manages exists for the connection's account and region."""


def _summary(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": config["FunctionName"],
        "version": config.get("Version"),
        "runtime": config.get("Runtime"),
        "handler": config.get("Handler"),
        "memory_mb": config.get("MemorySize"),
        "timeout_s": config.get("Timeout"),
        "architecture": (config.get("Architectures") or ["x86_64"])[0],
        "code_sha256": config.get("CodeSha256"),
        "code_size": config.get("CodeSize"),
        "last_modified": config.get("LastModified"),
        "description": config.get("Description") or "",
    }


def _aliases(hook: LambdaHook, name: str) -> list[dict[str, Any]]:
    """Each alias with the version it points at and that version's code sha and date, its traffic
    split (percent per version, while a deployment shifts it) and the deployment its description
    records."""
    versions = {version["Version"]: version for version in hook.published_versions(name)}
    aliases = [
        alias
        for page in hook.conn.get_paginator("list_aliases").paginate(FunctionName=name)
        for alias in page["Aliases"]
    ]
    return [
        {
            "name": alias["Name"],
            "version": alias["FunctionVersion"],
            "code_sha256": versions.get(alias["FunctionVersion"], {}).get("CodeSha256"),
            "last_modified": versions.get(alias["FunctionVersion"], {}).get("LastModified"),
            "weights": traffic_split(alias),
            "deployment": _deployment(alias.get("Description", "")),
        }
        for alias in sorted(aliases, key=lambda alias: alias["Name"])
    ]


def traffic_split(alias: dict[str, Any]) -> dict[str, float]:
    """Percent of the alias's invocations per version: ``{"7": 90.0, "8": 10.0}``, or the one version's 100."""
    extra = {
        version: round(weight * 100, 2)
        for version, weight in (
            (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        ).items()
    }
    return {alias["FunctionVersion"]: round(100 - sum(extra.values()), 2), **extra}


def _deployment(description: str) -> str | None:
    """What the last gradual deploy recorded on the alias (traffic_shift), without the marker."""
    if not description.startswith(DESCRIPTION_PREFIX):
        return None
    return description.removeprefix(DESCRIPTION_PREFIX)


def _utc_iso(last_modified: str | None) -> str | None:
    """Lambda's ``2026-12-04T13:40:12.123+0000`` (or a local stack's nanoseconds and ``Z``) as ISO 8601
    in UTC with a ``+00:00`` offset, which every browser parses (``+0000`` is not ECMAScript's format)."""
    if not last_modified:
        return None
    return datetime.fromisoformat(last_modified).astimezone(UTC).isoformat()


def last_deploy(config: dict[str, Any], aliases: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest deploy as Lambda records it, whichever path made it (the deploy DAG, ``lambdapipe
    deploy``, the demo): a deploy publishes a version and points its alias (``live``) at it, so the
    newest version an alias points at is the last deploy; without one (``--no-publish``), $LATEST."""
    published = [alias for alias in aliases if alias["version"].isdigit()]
    if not published:
        return {
            "version": config.get("Version") or "$LATEST",
            "aliases": [],
            "code_sha256": config.get("CodeSha256"),
            "deployed_at": _utc_iso(config.get("LastModified")),
        }
    newest = max(published, key=lambda alias: int(alias["version"]))
    return {
        "version": newest["version"],
        "aliases": [alias["name"] for alias in published if alias["version"] == newest["version"]],
        "code_sha256": newest["code_sha256"],
        "deployed_at": _utc_iso(newest["last_modified"]),
    }


def _described(hook: LambdaHook, config: dict[str, Any]) -> dict[str, Any]:
    """What the view shows of one function: its configuration, aliases and last deploy."""
    aliases = _aliases(hook, config["FunctionName"])
    return {**_summary(config), "aliases": aliases, "last_deploy": last_deploy(config, aliases)}


def _managed_configuration(hook: LambdaHook, name: str) -> dict[str, Any] | None:
    """The function's $LATEST configuration, or None if it does not exist or lambdapipe does not manage it."""
    try:
        function = hook.conn.get_function(FunctionName=name)
    except hook.conn.exceptions.ResourceNotFoundException:
        return None
    if (function.get("Tags") or {}).get(MANAGED_TAG) != MANAGED_TAG_VALUE:
        return None
    return function["Configuration"]


def managed_functions(names: Iterable[str], aws_conn_id: str | None = "aws_default") -> list[dict[str, Any]]:
    """Those of ``names`` that exist and lambdapipe manages, by name, with their aliases."""
    hook = LambdaHook(aws_conn_id=aws_conn_id, config=ui_botocore_config())
    found = [config for name in sorted(set(names)) if (config := _managed_configuration(hook, name))]
    return [_described(hook, config) for config in found]


def function_details(name: str, aws_conn_id: str | None = "aws_default") -> dict[str, Any]:
    """One managed function's $LATEST configuration and its aliases; ``FunctionNotFound`` otherwise."""
    hook = LambdaHook(aws_conn_id=aws_conn_id, config=ui_botocore_config())
    config = _managed_configuration(hook, name)
    if config is None:
        raise FunctionNotFound(
            f"no Lambda function {name!r} managed by lambdapipe (connection {aws_conn_id!r})"
        )
    return _described(hook, config)


def require_managed(name: str, aws_conn_id: str | None = "aws_default") -> None:
    """``FunctionNotFound`` unless the function exists and lambdapipe manages it."""
    hook = LambdaHook(aws_conn_id=aws_conn_id, config=ui_botocore_config())
    if _managed_configuration(hook, name) is None:
        raise FunctionNotFound(
            f"no Lambda function {name!r} managed by lambdapipe (connection {aws_conn_id!r})"
        )
