"""Every operator's and sensor's template fields checked: each names an ``__init__`` argument stored
under that name, each really renders, AWS classes template their connection like the Amazon provider,
and renderers name only template fields.

The classes are found by walking ``lambdapipe.operators`` and ``lambdapipe.sensors``, so a new one is
covered (and fails loudly until it has minimal arguments here). No AWS call, no server, no database.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any

import pytest
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import DAG, BaseOperator

import lambdapipe.operators
import lambdapipe.sensors
from tests.support.package_classes import classes_defined_in

CLASSES = classes_defined_in((lambdapipe.operators, lambdapipe.sensors), ("Operator", "Sensor"))
AWS_BASES = (AwsBaseOperator, AwsBaseSensor)
AWS_CLASSES = [cls for cls in CLASSES if issubclass(cls, AWS_BASES)]
FIELDS = [(cls, field) for cls in CLASSES for field in cls.template_fields]
FIELD_IDS = [f"{cls.__name__}.{field}" for cls, field in FIELDS]

# The smallest valid constructor arguments of each class (besides task_id); a class missing here
# fails test_every_discovered_class_has_minimal_arguments.
MINIMAL_ARGUMENTS: dict[str, dict[str, Any]] = {
    "IcebergCommitOperator": {"table_name": "uploads", "rows": [{"id": 1}]},
    "LambdaDeployFunctionOperator": {"function_dir": "lambda_functions/hello_world"},
    "LambdaProvisionedConcurrencyOperator": {
        "function_name": "f",
        "qualifier": "live",
        "provisioned_concurrency": 1,
    },
    "LambdaInvokeOperator": {"function_name": "f"},
    "LambdaInvocationSensor": {"function_name": "f", "request_id": "r"},
    "LambdaMapOperator": {"function_name": "f", "results_bucket": "results", "items": [1]},
    "S3UploadSensor": {"sqs_queue": "https://sqs.us-east-1.amazonaws.com/000000000000/q"},
    "SnsNotifyOperator": {
        "topic_arn": "arn:aws:sns:us-east-1:000000000000:t",
        "message": "m",
        "kind": "k",
    },
}
# Arguments that are mutually exclusive with one of MINIMAL_ARGUMENTS: giving one drops the other.
EXCLUSIVE_WITH = {"staging_uri": "rows", "items_s3_uri": "items", "items_dynamodb_query": "items"}
# Fields holding a dict or a list: the template goes inside the structure, where DAG authors put it.
DICT_FIELDS = {
    "rows",
    "run_key",
    "overrides",
    "items",
    "items_dynamodb_query",
    "payload",
    "message_attributes",
}
LIST_FIELDS = {"queue_urls"}
# Plain (untemplated) values of fields that are not strings.
PLAIN_VALUES: dict[str, Any] = {"provisioned_concurrency": 3, "verify": False}

TEMPLATE = "{{ params.x }}"
RENDERED = "rendered"
CONTEXT = {"params": {"x": RENDERED}, "ds": "2026-01-01", "run_id": "manual__2026-01-01"}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1))


def _arguments(cls: type[BaseOperator], field: str, value: Any) -> dict[str, Any]:
    arguments = dict(MINIMAL_ARGUMENTS[cls.__name__])
    arguments.pop(EXCLUSIVE_WITH.get(field, ""), None)
    return {**arguments, field: value}


def _plain(field: str) -> Any:
    if field in PLAIN_VALUES:
        return PLAIN_VALUES[field]
    if field in DICT_FIELDS:
        return [{"field": field}] if field == "rows" else {"field": field}
    if field in LIST_FIELDS:
        return [f"{field}-value"]
    return f"{field}-value"


def _templated(field: str) -> tuple[Any, Any]:
    """(what the DAG author writes, what the task holds once rendered)."""
    if field in DICT_FIELDS:
        return {"value": TEMPLATE}, {"value": RENDERED}
    if field in LIST_FIELDS:
        return [TEMPLATE], [RENDERED]
    return TEMPLATE, RENDERED


def _init_parameters(cls: type[BaseOperator]) -> set[str]:
    """The class's own ``__init__`` arguments, plus the AWS base's for AWS classes."""
    owners = [cls, *(base for base in AWS_BASES if issubclass(cls, base))]
    return {
        name
        for owner in owners
        for name, parameter in inspect.signature(owner.__init__).parameters.items()
        if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }


def test_classes_are_discovered_in_operators_and_sensors() -> None:
    assert CLASSES, "no operator or sensor found under lambdapipe.operators / lambdapipe.sensors"
    assert all(issubclass(cls, BaseOperator) for cls in CLASSES)


def test_every_discovered_class_has_minimal_arguments() -> None:
    assert sorted(MINIMAL_ARGUMENTS) == sorted(cls.__name__ for cls in CLASSES)


@pytest.mark.parametrize("operator_class", CLASSES, ids=lambda cls: cls.__name__)
def test_every_template_field_is_an_init_argument(operator_class: type[BaseOperator]) -> None:
    not_arguments = set(operator_class.template_fields) - _init_parameters(operator_class)

    assert not not_arguments, f"template fields that are no __init__ argument: {sorted(not_arguments)}"


@pytest.mark.parametrize(("operator_class", "field"), FIELDS, ids=FIELD_IDS)
def test_template_field_attribute_holds_the_value_passed(
    operator_class: type[BaseOperator], field: str
) -> None:
    value = _plain(field)
    with _dag("template_field_attribute"):
        task = operator_class(task_id="t", **_arguments(operator_class, field, value))

    assert getattr(task, field) == value


@pytest.mark.parametrize(("operator_class", "field"), FIELDS, ids=FIELD_IDS)
def test_template_field_renders_into_its_attribute(operator_class: type[BaseOperator], field: str) -> None:
    written, expected = _templated(field)
    with _dag("template_field_renders"):
        task = operator_class(task_id="t", **_arguments(operator_class, field, written))
    assert getattr(task, field) == written  # kept as written until the task runs

    task.render_template_fields(CONTEXT)

    assert getattr(task, field) == expected


# provisioned_concurrency is the only template field validated in __init__ (an int >= 0): a
# template is let through there and checked once rendered, as execute() starts, before any AWS call.
def _provisioned_concurrency(value: Any) -> BaseOperator:
    from lambdapipe.operators.lambda_function import LambdaProvisionedConcurrencyOperator

    arguments = MINIMAL_ARGUMENTS["LambdaProvisionedConcurrencyOperator"]
    with _dag("provisioned_concurrency"):
        return LambdaProvisionedConcurrencyOperator(
            task_id="t", **{**arguments, "provisioned_concurrency": value}
        )


@pytest.mark.parametrize("invalid", [-1, 1.5, True])
def test_provisioned_concurrency_given_literally_is_validated_at_construction(invalid: Any) -> None:
    with pytest.raises(ValueError, match="provisioned_concurrency must be an integer >= 0"):
        _provisioned_concurrency(invalid)


def test_provisioned_concurrency_template_renders_and_is_validated_when_the_task_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lambdapipe.operators.lambda_function import LambdaProvisionedConcurrencyOperator

    def no_aws(self: Any) -> Any:
        pytest.fail("execute() reached AWS before validating provisioned_concurrency")

    monkeypatch.setattr(LambdaProvisionedConcurrencyOperator, "hook", property(no_aws))
    task = _provisioned_concurrency("{{ params.count }}")  # accepted: checked once rendered

    task.render_template_fields({**CONTEXT, "params": {"count": "-2"}})

    assert task.provisioned_concurrency == "-2"
    with pytest.raises(ValueError, match=r"provisioned_concurrency must be an integer >= 0.*'-2'"):
        task.execute(CONTEXT)


@pytest.mark.parametrize("operator_class", AWS_CLASSES, ids=lambda cls: cls.__name__)
def test_aws_class_templates_the_connection_fields_like_the_amazon_provider(
    operator_class: type[BaseOperator],
) -> None:
    # The provider's aws_template_fields() adds aws_conn_id, region_name and verify (not
    # botocore_config, which the provider's own operators do not template either).
    convention = set(aws_template_fields())

    assert convention == {"aws_conn_id", "region_name", "verify"}
    assert convention <= set(operator_class.template_fields)


@pytest.mark.parametrize("operator_class", CLASSES, ids=lambda cls: cls.__name__)
def test_template_fields_renderers_name_only_template_fields(operator_class: type[BaseOperator]) -> None:
    renderers = getattr(operator_class, "template_fields_renderers", None) or {}

    assert set(renderers) <= set(operator_class.template_fields)
