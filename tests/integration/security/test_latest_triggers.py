"""A deploy names what runs untested code (finding 7 of the security issue).

Lambda changes ``$LATEST`` before a version can be published and smoke-tested: only the alias waits
for the tests. Whatever invokes the bare function (event source mappings, S3 or SNS notifications
allowed by its resource policy) runs the new code at once, so the deploy names each such trigger
and says to point it at the alias. It warns and goes on: refusing would leave a function that cannot
be fixed by a deploy while a trigger points at it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.deploy_folders import copy_function, replace_in_file

Deploy = Callable[..., DeployResult]


def test_a_code_change_warns_about_triggers_that_run_latest_before_the_smoke_tests(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = copy_function("hello_world", tmp_path / "greeter")
    deploy(folder)
    queue_arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.client("sqs").create_queue(QueueName="jobs")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    lambda_client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="greeter", Enabled=False)
    lambda_client.add_permission(
        FunctionName="greeter",
        StatementId="uploads",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )
    lambda_client.add_permission(  # through the alias: tested code only, no warning for this one
        FunctionName="greeter",
        Qualifier="live",
        StatementId="topic",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
    )
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello from version 2!")

    with caplog.at_level("WARNING", logger="lambdapipe.deploy.deployer"):
        deploy(folder)
        deploy(folder)  # nothing changes: no update of $LATEST, no warning

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"greeter: updating $LATEST, which event source {queue_arn}, ")
    assert "s3.amazonaws.com (permission uploads)" in warnings[0]
    assert "sns.amazonaws.com" not in warnings[0]
    assert warnings[0].endswith("point them at the alias 'live' instead")


def test_a_deploy_that_may_not_list_the_triggers_warns_and_still_deploys(
    aws: LocalAws, deploy: Deploy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = copy_function("hello_world", tmp_path / "greeter")
    deploy(folder)
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello from version 2!")
    aws.faults.add(FaultRule(service="lambda", operation="ListEventSourceMappings", error="internal_error"))

    with caplog.at_level("WARNING", logger="lambdapipe.deploy.deployer"):
        result = deploy(folder)

    assert (result.version, result.changed) == ("2", True)
    assert any("could not check what invokes $LATEST" in r.getMessage() for r in caplog.records)
