"""A mapping whose queue or stream was deleted waits quietly for it, and resumes when it is back.

Before, its poller retried every second with a full traceback each time, for as long as the server
ran (a reset or a test that deleted its queue filled the log).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from lambdapipe_local import LocalAws
from lambdapipe_local.lambda_runtime import event_sources
from tests.support.local_stack import create_streamed_table, wait_until

POLLER_LOGGER = event_sources.__name__
WATCHED_SECONDS = 4.0


def _queue(aws: LocalAws, name: str, **attributes: str) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _queue_is_empty(sqs: Any, url: str) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return set(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()) == {"0"}


def _poller_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == POLLER_LOGGER]


def test_a_deleted_queue_gets_one_warning_and_no_traceback_then_its_messages_flow_when_it_is_back(
    aws: LocalAws, make_function, python_probe_zip: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    sqs = aws.client("sqs")
    url, queue_arn = _queue(aws, "comes-and-goes")
    make_function("drain", python_probe_zip, "probe.echo")
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="drain", BatchSize=1
    )
    caplog.set_level(logging.INFO, logger=POLLER_LOGGER)

    sqs.delete_queue(QueueUrl=url)
    time.sleep(WATCHED_SECONDS)
    while_gone = _poller_records(caplog)
    url, _ = _queue(aws, "comes-and-goes")
    sqs.send_message(QueueUrl=url, MessageBody="after the return")

    assert [(record.levelname, record.exc_info) for record in while_gone] == [("WARNING", None)]
    assert "comes-and-goes" in while_gone[0].getMessage()
    wait_until(
        lambda: (
            sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
        ),
        what="the message sent after the queue came back to be consumed",
    )


def test_a_deleted_stream_gets_one_warning_and_no_traceback(
    aws: LocalAws, make_function, python_probe_zip: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    dynamodb = aws.client("dynamodb")
    stream_arn = create_streamed_table(dynamodb, "short-lived", "id")
    make_function("on-change", python_probe_zip, "probe.echo")
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="on-change", StartingPosition="LATEST"
    )
    caplog.set_level(logging.INFO, logger=POLLER_LOGGER)

    dynamodb.delete_table(TableName="short-lived")
    time.sleep(WATCHED_SECONDS)

    records = _poller_records(caplog)
    assert [(record.levelname, record.exc_info) for record in records] == [("WARNING", None)]
    assert "short-lived" in records[0].getMessage()


def test_a_mapping_whose_function_was_deleted_delivers_once_the_function_is_back(
    aws: LocalAws, make_function, python_probe_zip: bytes
) -> None:
    """A missing function is not a missing source: the poller keeps retrying instead of ending."""
    sqs, lambda_client = aws.client("sqs"), aws.client("lambda")
    url, queue_arn = _queue(aws, "outlives-its-function", VisibilityTimeout="1")
    make_function("comes-back", python_probe_zip, "probe.echo")
    lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="comes-back", BatchSize=1
    )
    lambda_client.delete_function(FunctionName="comes-back")
    sqs.send_message(QueueUrl=url, MessageBody="waits for its function")
    time.sleep(WATCHED_SECONDS)  # polled and failed while the function was gone

    make_function("comes-back", python_probe_zip, "probe.echo")

    wait_until(lambda: _queue_is_empty(sqs, url), timeout_s=30, what="the message to reach the function")
