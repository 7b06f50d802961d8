"""Translate a :class:`Manifest` into Lambda and IAM API requests (boto3 keyword arguments).

Pure functions, so the deploy hook's decisions ("does the configuration differ?") are testable
without a server. ``code`` arguments take the same dict as ``CreateFunction``'s ``Code``:
``{"ZipFile": bytes}`` or ``{"S3Bucket": ..., "S3Key": ...}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lambdapipe.packaging.manifest import Manifest

LAMBDA_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def function_configuration(
    manifest: Manifest, role_arn: str, layer_arns: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Keyword arguments for ``update_function_configuration`` (also the base of create); ``layer_arns``
    are the manifest's layers as published versions (``lambdapipe.deploy.layers``)."""
    return {
        "FunctionName": manifest.name,
        "Role": role_arn,
        "Runtime": manifest.runtime,
        "Handler": manifest.handler,
        "MemorySize": manifest.memory,
        "Timeout": manifest.timeout,
        "Description": manifest.description,
        "Environment": {"Variables": dict(manifest.environment)},
        "Layers": list(layer_arns),
    }


# Marks the functions lambdapipe deploys: the Lambda view shows no other function of the account.
MANAGED_TAG = "lambdapipe:managed"
MANAGED_TAG_VALUE = "true"


def create_function_kwargs(
    manifest: Manifest, role_arn: str, code: dict[str, Any], layer_arns: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Keyword arguments for ``create_function``; versions are published separately."""
    return {
        **function_configuration(manifest, role_arn, layer_arns),
        "Code": code,
        "PackageType": "Zip",
        "Architectures": [manifest.architecture],
        "Publish": False,
        "Tags": {MANAGED_TAG: MANAGED_TAG_VALUE},
    }


def update_code_kwargs(manifest: Manifest, code: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``update_function_code`` (the architecture is set with the code)."""
    return {"FunctionName": manifest.name, "Architectures": [manifest.architecture], "Publish": False, **code}


def configuration_changes(
    manifest: Manifest, role_arn: str, current: dict[str, Any], layer_arns: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The configuration fields whose desired value differs from ``get_function_configuration``.

    Returns ``{field: desired_value}``; empty means no ``update_function_configuration`` is needed.
    Lambda omits ``Environment`` when there are no variables, ``Description`` when empty and
    ``Layers`` when there are none, and reports each layer as ``{"Arn": ..., "CodeSize": ...}``.
    """
    actual = {
        **current,
        "Environment": {"Variables": current.get("Environment", {}).get("Variables", {})},
        "Description": current.get("Description", ""),
        "Layers": [layer["Arn"] for layer in current.get("Layers") or []],
    }
    desired = function_configuration(manifest, role_arn, layer_arns)
    return {
        key: value for key, value in desired.items() if key != "FunctionName" and actual.get(key) != value
    }


def architecture_changed(manifest: Manifest, current: dict[str, Any]) -> bool:
    """True if the deployed architecture differs: the code must be re-uploaded to change it."""
    return current.get("Architectures", ["x86_64"]) != [manifest.architecture]


def destination_arn(destination: str, region: str, account_id: str) -> str:
    """An ARN as given, or the ARN of the SQS queue named ``destination`` in the deploy account."""
    if destination.startswith("arn:"):
        return destination
    return f"arn:aws:sqs:{region}:{account_id}:{destination}"


def event_invoke_config_kwargs(
    manifest: Manifest, *, region: str, account_id: str, qualifier: str | None = None
) -> dict[str, Any] | None:
    """Keyword arguments for ``put_function_event_invoke_config``, or None if the manifest sets none."""
    config = manifest.event_invoke
    if config is None:
        return None
    kwargs: dict[str, Any] = {"FunctionName": manifest.name}
    if qualifier is not None:
        kwargs["Qualifier"] = qualifier
    if config.maximum_retry_attempts is not None:
        kwargs["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age_seconds is not None:
        kwargs["MaximumEventAgeInSeconds"] = config.maximum_event_age_seconds
    destinations = {
        key: {"Destination": destination_arn(value, region, account_id)}
        for key, value in (("OnSuccess", config.on_success), ("OnFailure", config.on_failure))
        if value is not None
    }
    if destinations:
        kwargs["DestinationConfig"] = destinations
    return kwargs


ROLE_PREFIX = "lambdapipe-"
ROLE_NAME_LIMIT = 64  # IAM's limit; function names may be 64 long, the prefix would push them over


def execution_role_name(function_name: str) -> str:
    """``lambdapipe-<name>``, or, above IAM's 64 characters, cut with a hash of the whole name added:
    two long names with the same beginning must not share (and overwrite) one role's policy."""
    name = ROLE_PREFIX + function_name
    if len(name) <= ROLE_NAME_LIMIT:
        return name
    digest = hashlib.sha256(function_name.encode()).hexdigest()[:10]
    # "." is allowed in role names, never in function names: no plain name can equal a hashed one.
    return f"{name[: ROLE_NAME_LIMIT - len(digest) - 1]}.{digest}"


def execution_role_policy(manifest: Manifest) -> dict[str, Any]:
    """The role's inline policy: writing its own log group (least privilege, instead of the broad
    AWSLambdaBasicExecutionRole) plus one statement per ``[[permissions]]`` entry."""
    log_group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{manifest.name}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group, f"{log_group}:*"],
        }
    ]
    for permission in manifest.permissions:
        statement: dict[str, Any] = {
            "Effect": permission.effect,
            "Action": list(permission.actions),
            "Resource": list(permission.resources),
        }
        if permission.sid:
            statement["Sid"] = permission.sid
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}
