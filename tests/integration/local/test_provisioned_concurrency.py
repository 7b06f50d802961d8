"""Provisioned concurrency on the local stack: the Lambda API moto lacks, backed by pre-initialized environments."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lambdapipe_local.moto_backend import compat
from tests.support.local_stack import wait_until


@pytest.fixture
def live(make_function, python_probe_zip, lambda_client) -> str:
    """``warm``: version 1 published, alias ``live`` -> 1."""
    make_function("warm", python_probe_zip, "probe.counter", Publish=True)
    lambda_client.create_alias(FunctionName="warm", Name="live", FunctionVersion="1")
    return "warm"


def _settled(client: Any, name: str, qualifier: str = "live") -> dict:
    """The config once it left IN_PROGRESS (the wait is bounded; nothing asserts how long it took)."""

    def status() -> dict | None:
        config = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        return config if config["Status"] != "IN_PROGRESS" else None

    return wait_until(status, timeout_s=30, what=f"provisioned concurrency on {name}:{qualifier} to settle")


def _publish_version_2(client: Any, name: str) -> None:
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {"RELEASE": "2"}})
    assert client.publish_version(FunctionName=name)["Version"] == "2"


def _report_line(response: dict) -> str:
    log = base64.b64decode(response["LogResult"]).decode()
    return next(line for line in log.splitlines() if line.startswith("REPORT"))


def test_put_answers_in_progress_and_get_turns_ready_with_every_environment_allocated(
    live, lambda_client, aws
):
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=2
    )

    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["Status"] == "IN_PROGRESS"
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0
    config = _settled(lambda_client, live)
    assert config["Status"] == "READY"
    assert config["RequestedProvisionedConcurrentExecutions"] == 2
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    assert config["AvailableProvisionedConcurrentExecutions"] == 2
    assert "StatusReason" not in config
    assert aws.runtime_stats()["environments_idle"] == 2


def test_an_invocation_through_the_alias_after_ready_is_warm(live, lambda_client, aws):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    _settled(lambda_client, live)

    response = lambda_client.invoke(FunctionName=live, Qualifier="live", Payload=b"{}", LogType="Tail")

    assert "Init Duration" not in _report_line(response)
    assert aws.runtime_stats()["environments_created"] == 1


def test_without_provisioned_concurrency_the_first_invocation_reports_init_duration(live, lambda_client):
    response = lambda_client.invoke(FunctionName=live, Qualifier="live", Payload=b"{}", LogType="Tail")

    assert "Init Duration" in _report_line(response)


def test_provisioned_environments_survive_the_idle_reaper(live, lambda_client, aws):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    _settled(lambda_client, live)
    lambda_client.invoke(FunctionName=live, Payload=b"{}")  # an ordinary warm environment of $LATEST

    assert aws.stop_idle_environments() == 1
    response = lambda_client.invoke(FunctionName=live, Qualifier="live", Payload=b"{}", LogType="Tail")
    assert "Init Duration" not in _report_line(response)


def test_delete_releases_the_environments_and_is_idempotent(live, lambda_client, aws):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    _settled(lambda_client, live)

    lambda_client.delete_provisioned_concurrency_config(FunctionName=live, Qualifier="live")

    assert aws.runtime_stats()["environments_idle"] == 0
    with pytest.raises(lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lambda_client.get_provisioned_concurrency_config(FunctionName=live, Qualifier="live")
    lambda_client.delete_provisioned_concurrency_config(FunctionName=live, Qualifier="live")


def test_list_shows_each_config_under_its_qualified_arn(live, lambda_client):
    _publish_version_2(lambda_client, live)  # not pointed at by the alias
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="2", ProvisionedConcurrentExecutions=1
    )
    _settled(lambda_client, live)
    _settled(lambda_client, live, "2")

    configs = lambda_client.list_provisioned_concurrency_configs(FunctionName=live)[
        "ProvisionedConcurrencyConfigs"
    ]

    assert sorted(config["FunctionArn"].rsplit(":", 1)[-1] for config in configs) == ["2", "live"]
    assert all(config["FunctionArn"].startswith("arn:aws:lambda:us-east-1:") for config in configs)
    assert {config["Status"] for config in configs} == {"READY"}


def test_a_new_value_replaces_the_allocation(live, lambda_client, aws):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    _settled(lambda_client, live)

    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )

    assert put["Status"] == "IN_PROGRESS"
    assert _settled(lambda_client, live)["AllocatedProvisionedConcurrentExecutions"] == 1
    assert aws.runtime_stats()["environments_idle"] == 1


def test_moving_the_alias_provisions_the_new_version(live, lambda_client):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    _settled(lambda_client, live)
    _publish_version_2(lambda_client, live)
    lambda_client.update_alias(FunctionName=live, Name="live", FunctionVersion="2")

    assert _settled(lambda_client, live)["Status"] == "READY"
    response = lambda_client.invoke(FunctionName=live, Qualifier="live", Payload=b"{}", LogType="Tail")
    assert response["ExecutedVersion"] == "2"
    assert "Init Duration" not in _report_line(response)


def test_an_init_error_fails_the_allocation_with_the_reason(
    make_function, python_probe_zip, lambda_client, aws
):
    make_function("broken", python_probe_zip, "imports_unpackaged.handler", Publish=True)
    lambda_client.create_alias(FunctionName="broken", Name="live", FunctionVersion="1")

    lambda_client.put_provisioned_concurrency_config(
        FunctionName="broken", Qualifier="live", ProvisionedConcurrentExecutions=2
    )

    config = _settled(lambda_client, "broken")
    assert config["Status"] == "FAILED"
    assert config["StatusReason"].startswith("FUNCTION_ERROR_INIT_FAILURE: Runtime.ImportModuleError: ")
    assert "No module named 'yaml'" in config["StatusReason"]
    assert config["AllocatedProvisionedConcurrentExecutions"] == 0
    assert aws.runtime_stats()["environments_idle"] == 0


@pytest.mark.parametrize(
    ("qualifier", "error", "message"),
    [
        ("$LATEST", "InvalidParameterValueException", "cannot be applied to unpublished function versions"),
        ("on-latest", "InvalidParameterValueException", "cannot be applied to unpublished function versions"),
        ("missing", "ResourceNotFoundException", "Cannot find alias arn: "),
        ("7", "ResourceNotFoundException", "Function not found: "),
    ],
)
def test_put_refuses_what_is_not_a_published_version_or_an_alias_of_one(
    live, lambda_client, qualifier, error, message
):
    lambda_client.create_alias(FunctionName=live, Name="on-latest", FunctionVersion="$LATEST")

    with pytest.raises(getattr(lambda_client.exceptions, error), match=message):
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=live, Qualifier=qualifier, ProvisionedConcurrentExecutions=1
        )


def test_reads_of_latest_and_of_an_unknown_function_are_refused(live, lambda_client):
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException, match="alias or a published"):
        lambda_client.get_provisioned_concurrency_config(FunctionName=live, Qualifier="$LATEST")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match="Function not found"):
        lambda_client.get_provisioned_concurrency_config(FunctionName="nope", Qualifier="live")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match="Function not found"):
        lambda_client.list_provisioned_concurrency_configs(FunctionName="nope")


def test_an_alias_and_the_version_it_points_to_cannot_both_be_provisioned(live, lambda_client):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )

    with pytest.raises(lambda_client.exceptions.ResourceConflictException, match="pointed by"):
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=live, Qualifier="1", ProvisionedConcurrentExecutions=1
        )


def test_more_than_the_reserved_concurrency_is_refused(live, lambda_client):
    lambda_client.put_function_concurrency(FunctionName=live, ReservedConcurrentExecutions=1)

    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException, match="reserved"):
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=2
        )


def test_reset_forgets_every_config(live, lambda_client, aws, make_function, python_probe_zip):
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=live, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    _settled(lambda_client, live)

    aws.reset()
    aws.client("iam").create_role(RoleName="lambda-test", AssumeRolePolicyDocument="{}")
    make_function("warm", python_probe_zip, "probe.counter", Publish=True)
    lambda_client.create_alias(FunctionName="warm", Name="live", FunctionVersion="1")

    with pytest.raises(lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lambda_client.get_provisioned_concurrency_config(FunctionName="warm", Qualifier="live")
    assert aws.runtime_stats()["environments_idle"] == 0


def test_the_moto_guard_names_an_operation_moto_has_gained(monkeypatch):
    from moto.awslambda.responses import LambdaResponse

    def put_provisioned_concurrency_config(self: Any) -> None:
        """Stands in for a moto release that implements the operation itself."""

    put_provisioned_concurrency_config.__module__ = "moto.awslambda.responses"
    monkeypatch.setattr(
        LambdaResponse, "put_provisioned_concurrency_config", put_provisioned_concurrency_config
    )

    with pytest.raises(compat.IncompatibleMotoError, match=r"put_provisioned_concurrency_config now exists"):
        compat.check_moto()
