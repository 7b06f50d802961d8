"""The local Lambda publishes ``AWS/Lambda`` metrics as AWS does (per function, per qualifier, per
alias and executed version), and CloudWatch answers their sums and percentiles through the API."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.local_stack import invoke_json

HANDLER = """\
import time


def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    time.sleep(event.get("sleep", 0))
    return "ok"
"""


@pytest.fixture
def measured(make_function: Any, lambda_client: Any) -> str:
    """``measured`` with version 1 and 2 published and alias ``live`` sending half to version 2."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    make_function("measured", buffer.getvalue(), "app.handler")
    lambda_client.publish_version(FunctionName="measured")
    lambda_client.update_function_configuration(FunctionName="measured", Description="second")
    lambda_client.publish_version(FunctionName="measured")
    lambda_client.create_alias(
        FunctionName="measured",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    return "measured"


def statistic(cloudwatch: Any, metric: str, dimensions: dict[str, str], **wanted: Any) -> dict[str, Any]:
    """The single datapoint of ``metric`` over the last ten minutes with exactly these dimensions."""
    now = datetime.now(UTC)
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=600,
        **wanted,
    )
    [point] = response["Datapoints"]
    return point


def test_invocations_and_errors_are_counted_per_function_alias_and_executed_version(
    aws: Any, measured: str, lambda_client: Any
) -> None:
    for index in range(20):
        invoke_json(lambda_client, measured, {"fail": index % 4 == 0}, Qualifier="live")
    invoke_json(lambda_client, measured, {}, Qualifier="2")
    cloudwatch = aws.client("cloudwatch")
    alias = {"FunctionName": measured, "Resource": f"{measured}:live"}

    def total(metric: str, dimensions: dict[str, str]) -> float:
        return statistic(cloudwatch, metric, dimensions, Statistics=["Sum"])["Sum"]

    assert total("Invocations", {"FunctionName": measured}) == 21
    assert total("Invocations", {**alias, "ExecutedVersion": "2"}) == 10  # half of the alias's 20
    assert total("Invocations", {"FunctionName": measured, "Resource": f"{measured}:2"}) == 1  # direct
    errors = total("Errors", {**alias, "ExecutedVersion": "1"}) + total(
        "Errors", {**alias, "ExecutedVersion": "2"}
    )
    assert errors == 5


def test_p95_duration_is_answered_from_the_invocations_durations(
    aws: Any, measured: str, lambda_client: Any
) -> None:
    for index in range(20):
        invoke_json(lambda_client, measured, {"sleep": 0.3 if index == 19 else 0}, Qualifier="1")
    dimensions = {"FunctionName": measured, "Resource": f"{measured}:1"}

    point = statistic(
        aws.client("cloudwatch"),
        "Duration",
        dimensions,
        Statistics=["Maximum"],
        ExtendedStatistics=["p95", "p50"],
    )

    assert point["Maximum"] >= 300  # the one slow call
    assert point["ExtendedStatistics"]["p95"] < 300 <= point["Maximum"]  # 19 of 20 are fast
    assert point["ExtendedStatistics"]["p50"] <= point["ExtendedStatistics"]["p95"]
