"""The execution role carries exactly the manifest's permissions; wildcard actions need an explicit opt-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.packaging import ManifestError
from lambdapipe_local import LocalAws
from tests.support.aws_calls import write_calls
from tests.support.deploy_folders import inline_policy, with_permissions

Deploy = Callable[..., DeployResult]

READ_UPLOADS = """
[[permissions]]
sid = "ReadUploads"
actions = ["s3:GetObject"]
resources = ["arn:aws:s3:::uploads/*"]
"""

ALL_OF_S3 = """
[[permissions]]
actions = ["s3:*"]
resources = ["arn:aws:s3:::uploads/*"]
"""


def test_role_gets_the_manifest_permissions_as_its_inline_policy(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    deploy(with_permissions(tmp_path, "reader", READ_UPLOADS), smoke_test=False)

    statements = inline_policy(aws, "reader")["Statement"]
    assert {
        "Sid": "ReadUploads",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::uploads/*"],
    } in statements
    assert {statement.get("Sid") for statement in statements} == {"OwnLogGroup", "ReadUploads"}
    trust = aws.client("iam").get_role(RoleName="lambdapipe-reader")["Role"]["AssumeRolePolicyDocument"]
    assert "lambda.amazonaws.com" in json.dumps(trust)


def test_permission_change_rewrites_only_the_inline_policy(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = with_permissions(tmp_path, "reader", READ_UPLOADS)
    first = deploy(folder, smoke_test=False)
    manifest = folder / "function.toml"
    manifest.write_text(
        manifest.read_text().replace('"s3:GetObject"', '"s3:GetObject", "s3:GetObjectTagging"')
    )
    aws.calls.reset()

    result = deploy(folder, smoke_test=False)

    assert write_calls(aws.calls.snapshot()) == {"iam:PutRolePolicy": 1}
    assert (result.changed, result.version) == (True, first.version)
    actions = [statement["Action"] for statement in inline_policy(aws, "reader")["Statement"]]
    assert ["s3:GetObject", "s3:GetObjectTagging"] in actions


def test_wildcard_action_is_refused_naming_the_file_and_field_before_any_aws_call(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = with_permissions(tmp_path, "greedy", ALL_OF_S3)

    with pytest.raises(ManifestError) as refused:
        deploy(folder)

    message = str(refused.value)
    assert str(folder / "function.toml") in message
    assert "permissions[0].actions[0]" in message
    assert "'s3:*'" in message and "allow_wildcard = true" in message
    assert aws.calls.snapshot().calls == {}


def test_wildcard_action_is_deployed_when_the_statement_allows_it(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = with_permissions(tmp_path, "greedy", ALL_OF_S3 + "allow_wildcard = true\n")

    deploy(folder, smoke_test=False)

    actions = [statement["Action"] for statement in inline_policy(aws, "greedy")["Statement"]]
    assert ["s3:*"] in actions
