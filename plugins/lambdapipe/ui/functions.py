"""The deployed functions as Lambda reports them: configuration, aliases and the version each points at.

Read through the ``aws_default`` connection (or the one given), so against ``lambdapipe local`` the
view shows the local stack and on AWS the account's functions. Two calls per function (aliases,
versions) after the paginated list: fine for the tens of functions a project deploys.
"""

from __future__ import annotations

from typing import Any

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.ui.aws_config import ui_botocore_config


class FunctionNotFound(LookupError):
    """No function of that name (or ARN) exists for the connection's account and region."""


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
    """Each alias with the version it points at and that version's code sha and date."""
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
        }
        for alias in sorted(aliases, key=lambda alias: alias["Name"])
    ]


def deployed_functions(aws_conn_id: str | None = "aws_default") -> list[dict[str, Any]]:
    """Every function of the account and region, by name, with its aliases."""
    hook = LambdaHook(aws_conn_id=aws_conn_id, config=ui_botocore_config())
    configs = [
        config
        for page in hook.conn.get_paginator("list_functions").paginate()
        for config in page["Functions"]
    ]
    return [
        {**_summary(config), "aliases": _aliases(hook, config["FunctionName"])}
        for config in sorted(configs, key=lambda config: config["FunctionName"])
    ]


def function_details(name: str, aws_conn_id: str | None = "aws_default") -> dict[str, Any]:
    """One function's $LATEST configuration and its aliases; ``FunctionNotFound`` if it does not exist."""
    hook = LambdaHook(aws_conn_id=aws_conn_id, config=ui_botocore_config())
    config = hook.get_configuration_or_none(name)
    if config is None:
        raise FunctionNotFound(f"no Lambda function {name!r} (connection {aws_conn_id!r})")
    return {**_summary(config), "aliases": _aliases(hook, config["FunctionName"])}
