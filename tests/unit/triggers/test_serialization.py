"""Every trigger survives the trip through the triggerer's table: serialize, rebuild, serialize again.

The triggerer rebuilds a trigger from ``serialize()`` alone (after a restart, on another host), so a
parameter left out of it silently reverts to its default there: a custom connection, region or
botocore config would be dropped mid-wait.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
from airflow.triggers.base import BaseEventTrigger, BaseTrigger

import lambdapipe.triggers
from lambdapipe.triggers.base import AwsConnectionTrigger
from lambdapipe.triggers.dynamodb import DynamoDBStreamTrigger
from tests.support.package_classes import classes_defined_in

CONNECTION = {
    "aws_conn_id": "aws_elsewhere",
    "region_name": "eu-west-1",
    "verify": "/etc/ssl/corporate.pem",
    "botocore_config": {"retries": {"mode": "standard", "max_attempts": 7}},
}
# Non-default values for every trigger's own parameters, so a dropped one shows.
OWN_ARGUMENTS: dict[str, dict[str, Any]] = {
    "DynamoDBStreamTrigger": {
        "table_name": "orders",
        "attributes": ["order_hour"],
        "event_names": ["INSERT"],
        "initial_position": "LATEST",
        "poll_interval": 2.5,
        "max_records_per_event": 50,
        "shard_refresh_interval": 30.0,
    },
    "LambdaFunctionUpdatedTrigger": {
        "function_name": "resize",
        "deploy_state": {"phase": "code", "version": "3"},
        "waiter_delay": 3,
        "waiter_max_attempts": 9,
    },
    "LambdaProvisionedConcurrencyTrigger": {
        "function_name": "resize",
        "qualifier": "live",
        "provisioned_concurrency": 4,
        "changed": True,
        "waiter_delay": 3,
        "waiter_max_attempts": 9,
    },
    "LambdaInvocationTrigger": {
        "request_id": "r-1",
        "queue_urls": ["http://127.0.0.1:4566/000000000000/ok"],
        "timeout": 120.0,
        "poll_interval": 2,
    },
    "LambdaTrafficStepTrigger": {
        "deploy_state": {"function_name": "resize", "shift": {"step": 1}},
        "step_ends_at": "2026-12-05T01:30:00+00:00",
    },
    "LambdaMapTrigger": {"config": {"function": {"name": "resize"}, "concurrency": 7}},
    "S3UploadTrigger": {
        "sqs_queue": "uploads",
        "timeout": 60.0,
        "prefix": "incoming/",
        "suffix": ".jpg",
        "pattern": r"\d+",
        "created_only": False,
        "bucket": "photos",
        "min_count": 3,
        "max_messages": 20,
        "visibility_timeout": 45,
        "poll_interval": 2.0,
    },
}

# Triggers that only wait, calling no AWS API: they take no connection.
WAIT_ONLY = {"LambdaTrafficStepTrigger"}

# AwsConnectionTrigger is the base class of our triggers, not one itself.
TRIGGERS = [
    cls for cls in classes_defined_in((lambdapipe.triggers,), ("Trigger",)) if cls is not AwsConnectionTrigger
]


def test_every_trigger_has_arguments_for_this_test() -> None:
    assert sorted(OWN_ARGUMENTS) == [cls.__name__ for cls in TRIGGERS]


@pytest.mark.parametrize("trigger_class", TRIGGERS, ids=lambda cls: cls.__name__)
def test_a_rebuilt_trigger_keeps_every_argument_and_its_connection(trigger_class: type[BaseTrigger]) -> None:
    connection = {} if trigger_class.__name__ in WAIT_ONLY else CONNECTION
    trigger = trigger_class(**OWN_ARGUMENTS[trigger_class.__name__], **connection)

    classpath, kwargs = trigger.serialize()
    module_name, _, class_name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)

    assert type(rebuilt) is trigger_class
    assert rebuilt.serialize() == (classpath, kwargs)
    for name, value in {**OWN_ARGUMENTS[trigger_class.__name__], **connection}.items():
        assert kwargs.get(name, getattr(rebuilt, name, None)) == value, name


def test_the_stream_trigger_stays_an_asset_watcher_trigger() -> None:
    assert issubclass(DynamoDBStreamTrigger, BaseEventTrigger)


def test_a_traffic_step_whose_end_has_passed_fires_at_once_with_the_deploy_state() -> None:
    """A triggerer restarted after the step's end hands the task back without waiting it again."""
    from lambdapipe.triggers.lambda_function import LambdaTrafficStepTrigger

    state = {"function_name": "resize", "shift": {"step": 1}}
    trigger = LambdaTrafficStepTrigger(deploy_state=state, step_ends_at="2026-01-01T00:00:00+00:00")

    async def first_event() -> Any:
        return await anext(trigger.run())

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=5))

    assert event.payload == {"status": "success", "deploy_state": state}
