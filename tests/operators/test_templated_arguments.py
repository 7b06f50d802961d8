"""Every templated argument of every operator and sensor really renders, and the AWS ones follow the
Amazon provider's convention (``aws_conn_id``, ``region_name`` and ``verify`` are templated too).

A name in ``template_fields`` that is not the attribute the argument is stored under, or an argument
validated in ``__init__`` before Jinja has run, would make ``{{ ... }}`` fail or pass through
unrendered in a user's DAG; these tests render each field on its own, with no AWS call.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.sdk import DAG, BaseOperator

import lambdapipe.operators
import lambdapipe.sensors
from tests.support.package_classes import classes_defined_in

TEMPLATE = "{{ params.value }}"
RENDERED = "7"
AWS_FIELDS = {"aws_conn_id", "region_name", "verify"}
# The smallest valid arguments of each class; a class missing here fails the coverage test.
MINIMAL_ARGUMENTS: dict[str, dict[str, Any]] = {
    "IcebergCommitOperator": {"table_name": "uploads", "rows": []},
    "LambdaDeployFunctionOperator": {"function_dir": "lambda_functions/hello_world"},
    "LambdaProvisionedConcurrencyOperator": {
        "function_name": "f",
        "qualifier": "live",
        "provisioned_concurrency": 1,
    },
    "LambdaInvokeOperator": {"function_name": "f"},
    "LambdaMapOperator": {"function_name": "f", "results_bucket": "results", "items": [1]},
    "SnsNotifyOperator": {"topic_arn": "arn:aws:sns:us-east-1:000000000000:t", "message": "m", "kind": "k"},
    "LambdaInvocationSensor": {"function_name": "f", "request_id": "r"},
    "S3UploadSensor": {"sqs_queue": "q"},
}
# Arguments that hold a structure: the template goes inside it, where users put theirs.
STRUCTURED = {
    "rows",
    "run_key",
    "overrides",
    "items",
    "items_dynamodb_query",
    "payload",
    "message_attributes",
}
LISTS = {"queue_urls"}
# Alternatives to an argument of MINIMAL_ARGUMENTS (exactly one of them is allowed).
REPLACES = {"staging_uri": "rows", "items_s3_uri": "items", "items_dynamodb_query": "items"}


CLASSES = classes_defined_in((lambdapipe.operators, lambdapipe.sensors), ("Operator", "Sensor"))
AWS_CLASSES = [cls for cls in CLASSES if issubclass(cls, AwsBaseOperator | AwsBaseSensor)]
FIELDS = [(cls, field) for cls in CLASSES for field in cls.template_fields]


def _templated(field: str) -> tuple[Any, Any]:
    """(what the DAG author writes, what the task must see after rendering)."""
    if field in STRUCTURED:
        return {"value": TEMPLATE}, {"value": RENDERED}
    if field in LISTS:
        return [TEMPLATE], [RENDERED]
    return TEMPLATE, RENDERED


def test_every_operator_and_sensor_has_minimal_arguments_here() -> None:
    assert sorted(MINIMAL_ARGUMENTS) == [cls.__name__ for cls in CLASSES]


@pytest.mark.parametrize(("operator_class", "field"), FIELDS, ids=[f"{c.__name__}.{f}" for c, f in FIELDS])
def test_each_template_field_renders_into_the_attribute_the_task_uses(
    operator_class: type[BaseOperator], field: str
) -> None:
    written, expected = _templated(field)
    arguments = dict(MINIMAL_ARGUMENTS[operator_class.__name__])
    arguments.pop(REPLACES.get(field, ""), None)
    with DAG(dag_id="templated_arguments", schedule=None, params={"value": RENDERED}):
        task = operator_class(task_id="t", **{**arguments, field: written})

    task.render_template_fields({"params": {"value": RENDERED}})

    assert getattr(task, field) == expected


@pytest.mark.parametrize("operator_class", AWS_CLASSES, ids=lambda cls: cls.__name__)
def test_aws_operators_template_their_connection_like_the_amazon_provider(
    operator_class: type[BaseOperator],
) -> None:
    assert set(operator_class.template_fields) >= AWS_FIELDS


@pytest.mark.parametrize("operator_class", CLASSES, ids=lambda cls: cls.__name__)
def test_renderers_name_only_template_fields(operator_class: type[BaseOperator]) -> None:
    renderers = getattr(operator_class, "template_fields_renderers", {}) or {}

    assert set(renderers) <= set(operator_class.template_fields)
