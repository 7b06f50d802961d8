"""The manifest's ``[event_invoke]`` (retries, event age, destinations of Event invocations) as the
function's event-invoke config: put when it differs, deleted when the manifest drops it."""

from __future__ import annotations

from typing import Any

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.packaging import Manifest, lambda_api


def ensure_event_invoke_config(lambda_hook: LambdaHook, manifest: Manifest, function_arn: str) -> bool:
    """Bring the config in line with the manifest; True when it wrote."""
    region, account_id = function_arn.split(":")[3:5]
    desired = lambda_api.event_invoke_config_kwargs(manifest, region=region, account_id=account_id)
    current = lambda_hook.get_event_invoke_config_or_none(manifest.name)
    if desired is None:
        if current is None:
            return False
        lambda_hook.conn.delete_function_event_invoke_config(FunctionName=manifest.name)
        return True
    if current is not None and _comparable(current) == _comparable(desired):
        return False
    lambda_hook.conn.put_function_event_invoke_config(**desired)
    return True


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """Retries, event age and destinations; AWS reports an unset destination as an empty ``{}``."""
    destinations = {
        kind: target
        for kind, target in (config.get("DestinationConfig") or {}).items()
        if target and target.get("Destination")
    }
    return {
        "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
        "DestinationConfig": destinations,
    }
