"""Versions, aliases and concurrency limits behave as on AWS (moto alone ignores Qualifier on invoke)."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest

from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.local_stack import invoke_json, wait_until


def _code(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(event, context):\n    return {body!r}\n")
    return buffer.getvalue()


@pytest.fixture
def versioned(make_function, lambda_client) -> str:
    """``versioned``: v1 answers "v1", v2 answers "v2", $LATEST answers "latest"; alias live -> 1."""
    make_function("versioned", _code("v1"), "app.handler")
    lambda_client.publish_version(FunctionName="versioned")
    lambda_client.update_function_code(FunctionName="versioned", ZipFile=_code("v2"))
    lambda_client.publish_version(FunctionName="versioned")
    lambda_client.update_function_code(FunctionName="versioned", ZipFile=_code("latest"))
    lambda_client.create_alias(FunctionName="versioned", Name="live", FunctionVersion="1")
    return "versioned"


@pytest.mark.parametrize(
    ("call", "expected_payload", "expected_version"),
    [
        ({"FunctionName": "versioned"}, "latest", "$LATEST"),
        ({"FunctionName": "versioned", "Qualifier": "$LATEST"}, "latest", "$LATEST"),
        ({"FunctionName": "versioned", "Qualifier": "1"}, "v1", "1"),
        ({"FunctionName": "versioned", "Qualifier": "2"}, "v2", "2"),
        ({"FunctionName": "versioned", "Qualifier": "live"}, "v1", "1"),
        ({"FunctionName": "versioned:2"}, "v2", "2"),
        ({"FunctionName": "versioned:live"}, "v1", "1"),
        ({"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:versioned:2"}, "v2", "2"),
    ],
)
def test_qualifier_runs_the_code_of_that_version(
    versioned, lambda_client, call, expected_payload, expected_version
):
    name = call.pop("FunctionName")
    response, payload = invoke_json(lambda_client, name, {}, **call)
    assert payload == expected_payload
    assert response["ExecutedVersion"] == expected_version


def test_moving_an_alias_switches_the_code_it_runs(versioned, lambda_client):
    lambda_client.update_alias(FunctionName="versioned", Name="live", FunctionVersion="2")
    response, payload = invoke_json(lambda_client, "versioned", {}, Qualifier="live")
    assert payload == "v2"
    assert response["ExecutedVersion"] == "2"


def test_a_weighted_alias_sends_its_additional_versions_share_of_1000_invocations_there(
    versioned, lambda_client
):
    """A canary's routing (RoutingConfig): 10% to version 2, measured over 1,000 invocations of the
    alias; each answer's code and ExecutedVersion agree."""
    lambda_client.update_alias(
        FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )

    outcomes = [invoke_json(lambda_client, "versioned", {}, Qualifier="live") for _ in range(1000)]

    executed = [response["ExecutedVersion"] for response, _ in outcomes]
    assert {(response["ExecutedVersion"], payload) for response, payload in outcomes} == {
        ("1", "v1"),
        ("2", "v2"),
    }
    assert 70 <= executed.count("2") <= 130, f"{executed.count('2')} of 1000 on version 2"


def test_an_alias_back_on_one_version_sends_nothing_elsewhere(versioned, lambda_client):
    lambda_client.update_alias(
        FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    lambda_client.update_alias(
        FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": {}}
    )

    versions = {
        invoke_json(lambda_client, "versioned", {}, Qualifier="live")[0]["ExecutedVersion"] for _ in range(20)
    }

    assert versions == {"1"}


def test_unknown_qualifier_is_resource_not_found(versioned, lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="versioned", Qualifier="7", Payload=b"{}")


def test_code_update_of_latest_is_picked_up_by_the_next_invoke(make_function, lambda_client):
    make_function("updated", _code("before"), "app.handler")
    assert invoke_json(lambda_client, "updated", {})[1] == "before"
    lambda_client.update_function_code(FunctionName="updated", ZipFile=_code("after"))
    assert invoke_json(lambda_client, "updated", {})[1] == "after"


def test_invocations_beyond_reserved_concurrency_get_429(make_function, python_probe_zip, aws, lambda_client):
    make_function("reserved", python_probe_zip, "probe.sleep", Timeout=10)
    lambda_client.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
    started = threading.Event()
    results = []

    def slow_call() -> None:
        started.set()
        results.append(invoke_json(aws.client("lambda"), "reserved", {"seconds": 2})[1])

    thread = threading.Thread(target=slow_call)
    thread.start()
    started.wait()
    wait_until(lambda: aws.runtime_stats()["in_flight"] == 1, what="the first invocation to start")
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as throttled:
        lambda_client.invoke(FunctionName="reserved", Payload=b'{"seconds": 0}')
    thread.join()
    error = throttled.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert results == [{"slept": 2}]
    # Once the slot is free the function runs again.
    assert invoke_json(lambda_client, "reserved", {"seconds": 0})[1] == {"slept": 0}


def test_reserved_concurrency_zero_throttles_every_invoke(make_function, python_probe_zip, lambda_client):
    make_function("disabled", python_probe_zip, "probe.echo")
    lambda_client.put_function_concurrency(FunctionName="disabled", ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName="disabled", Payload=b"{}")


def test_account_concurrency_limit_applies_across_functions(
    make_function, python_probe_zip, aws, lambda_client
):
    aws._service.executor.pool.account_concurrency = 1
    try:
        make_function("first", python_probe_zip, "probe.sleep")
        make_function("second", python_probe_zip, "probe.echo")
        thread = threading.Thread(target=invoke_json, args=(aws.client("lambda"), "first", {"seconds": 2}))
        thread.start()
        wait_until(lambda: aws.runtime_stats()["in_flight"] == 1, what="the first invocation to start")
        with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as throttled:
            lambda_client.invoke(FunctionName="second", Payload=b"{}")
        assert throttled.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        thread.join()
    finally:
        aws._service.executor.pool.account_concurrency = aws.account_concurrency


def test_only_invocations_that_run_take_a_share_of_a_weighted_alias(versioned, lambda_client):
    """A DryRun, a refused body or a config read between two invocations moves nothing: the two still
    split as the weights say."""
    lambda_client.update_alias(
        FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    executed = []
    for _ in range(2):
        lambda_client.invoke(FunctionName="versioned", Qualifier="live", InvocationType="DryRun")
        with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
            lambda_client.invoke(FunctionName="versioned", Qualifier="live", Payload=b"{not json")
        lambda_client.get_function_configuration(FunctionName="versioned", Qualifier="live")
        executed.append(invoke_json(lambda_client, "versioned", {}, Qualifier="live")[0]["ExecutedVersion"])

    assert executed == ["1", "2"]


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ({"9": 0.1}, "ResourceNotFoundException"),
        ({"1": 0.1}, "InvalidParameterValueException"),
        ({"2": 1.5}, "InvalidParameterValueException"),
        ({"2": 0.1, "$LATEST": 0.1}, "InvalidParameterValueException"),
    ],
    ids=["unpublished", "its-own-version", "over-1", "two-versions"],
)
def test_routing_weights_aws_refuses_are_refused(versioned, lambda_client, weights, error):
    with pytest.raises(lambda_client.exceptions.ClientError) as refused:
        lambda_client.update_alias(
            FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": weights}
        )

    assert refused.value.response["Error"]["Code"] == error
    assert lambda_client.get_alias(FunctionName="versioned", Name="live").get("RoutingConfig") in (None, {})


def test_an_alias_cannot_split_traffic_between_versions_with_different_execution_roles(
    aws, versioned, lambda_client
):
    other = aws.client("iam").create_role(
        RoleName="lambda-other", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE
    )
    lambda_client.update_function_configuration(FunctionName="versioned", Role=other["Role"]["Arn"])
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName="versioned")
    third = lambda_client.publish_version(FunctionName="versioned")["Version"]

    with pytest.raises(lambda_client.exceptions.ClientError) as refused:
        lambda_client.update_alias(
            FunctionName="versioned", Name="live", RoutingConfig={"AdditionalVersionWeights": {third: 0.1}}
        )

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "different execution role" in refused.value.response["Error"]["Message"]
