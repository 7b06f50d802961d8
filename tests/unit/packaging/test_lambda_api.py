"""Manifest -> Lambda/IAM request arguments, as the deploy hook uses them."""

from __future__ import annotations

from typing import Any

from lambdapipe.packaging import EventInvokeConfig, Manifest, Permission
from lambdapipe.packaging.lambda_api import (
    architecture_changed,
    configuration_changes,
    create_function_kwargs,
    event_invoke_config_kwargs,
    execution_role_policy,
    update_code_kwargs,
)

ROLE = "arn:aws:iam::123456789012:role/lambdapipe-resize"


def manifest(**overrides: Any) -> Manifest:
    return Manifest(**{"name": "resize", "runtime": "python3.11", "handler": "app.handler", **overrides})


def deployed_configuration(**overrides: object) -> dict[str, object]:
    """A get_function_configuration response for manifest() with no environment and no description."""
    return {
        "FunctionName": "resize",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:resize",
        "Role": ROLE,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "MemorySize": 128,
        "Timeout": 3,
        "Architectures": ["x86_64"],
        "CodeSha256": "abc=",
        "State": "Active",
        **overrides,
    }


def test_create_kwargs_carry_the_whole_configuration_code_and_the_managed_tag() -> None:
    kwargs = create_function_kwargs(
        manifest(memory=512, timeout=30, environment={"STAGE": "dev"}, architecture="arm64"),
        ROLE,
        {"ZipFile": b"zip"},
        ("arn:aws:lambda:us-east-1:123456789012:layer:common:2",),
    )

    assert kwargs == {
        "FunctionName": "resize",
        "Role": ROLE,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "MemorySize": 512,
        "Timeout": 30,
        "Description": "",
        "Environment": {"Variables": {"STAGE": "dev"}},
        "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:common:2"],
        "Code": {"ZipFile": b"zip"},
        "PackageType": "Zip",
        "Architectures": ["arm64"],
        "Publish": False,
        "Tags": {"lambdapipe:managed": "true"},
    }


def test_update_code_kwargs_set_the_architecture_with_the_code() -> None:
    assert update_code_kwargs(manifest(), {"S3Bucket": "b", "S3Key": "k"}) == {
        "FunctionName": "resize",
        "Architectures": ["x86_64"],
        "Publish": False,
        "S3Bucket": "b",
        "S3Key": "k",
    }


def test_unchanged_configuration_needs_no_update_even_when_lambda_omits_empty_fields() -> None:
    assert configuration_changes(manifest(), ROLE, deployed_configuration()) == {}
    assert not architecture_changed(manifest(), deployed_configuration())


def test_configuration_changes_list_only_the_fields_that_differ() -> None:
    deployed = deployed_configuration(Environment={"Variables": {"STAGE": "dev"}}, Description="old")

    changes = configuration_changes(manifest(memory=256, environment={"STAGE": "dev"}), ROLE, deployed)

    assert changes == {"MemorySize": 256, "Description": ""}
    assert architecture_changed(manifest(architecture="arm64"), deployed)


def test_layers_compare_by_arn_in_order_whatever_else_lambda_reports_of_them() -> None:
    common, extra = (f"arn:aws:lambda:us-east-1:123456789012:layer:{name}:1" for name in ("common", "extra"))
    deployed = deployed_configuration(
        Layers=[{"Arn": common, "CodeSize": 10}, {"Arn": extra, "CodeSize": 20}]
    )

    assert configuration_changes(manifest(), ROLE, deployed, (common, extra)) == {}
    assert configuration_changes(manifest(), ROLE, deployed, (extra, common)) == {"Layers": [extra, common]}
    assert configuration_changes(manifest(), ROLE, deployed) == {"Layers": []}


def test_event_invoke_config_resolves_queue_names_in_the_deploy_account() -> None:
    config = EventInvokeConfig(
        maximum_retry_attempts=1,
        maximum_event_age_seconds=3600,
        on_success="arn:aws:sns:us-east-1:123456789012:done",
        on_failure="resize-failures",
    )

    kwargs = event_invoke_config_kwargs(
        manifest(event_invoke=config), region="eu-west-1", account_id="123456789012", qualifier="live"
    )

    assert kwargs == {
        "FunctionName": "resize",
        "Qualifier": "live",
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {
            "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:123456789012:done"},
            "OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:123456789012:resize-failures"},
        },
    }
    assert event_invoke_config_kwargs(manifest(), region="eu-west-1", account_id="1") is None


def test_execution_role_policy_grants_its_own_log_group_plus_one_statement_per_permission() -> None:
    permissions = (
        Permission(actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",), sid="Read"),
        Permission(actions=("s3:DeleteObject",), resources=("*",), effect="Deny"),
    )
    own_logs = {
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{manifest().name}",
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{manifest().name}:*",
        ],
    }

    assert execution_role_policy(manifest(permissions=permissions)) == {
        "Version": "2012-10-17",
        "Statement": [
            own_logs,
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"], "Sid": "Read"},
            {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": ["*"]},
        ],
    }
    assert execution_role_policy(manifest()) == {"Version": "2012-10-17", "Statement": [own_logs]}
