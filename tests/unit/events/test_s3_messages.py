"""Bad S3 event messages: a bad record is reported with its index and reason, never a crash, and the
good records beside it are still read; a message that is no S3 event at all is left for others.

Covers the three readers: ``parse_message`` itself, the upload watcher's asset events, and the queue
consumer shared by ``S3UploadSensor`` and its trigger (against a real queue on the local stack).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from lambdapipe.events.s3_events import NotAnS3Event, parse_message
from lambdapipe_demo.uploads import events_from_asset_events
from tests.support.s3_event_messages import body, record

# (case id, the bad record, the reason its problem names)
BAD_RECORDS = [
    ("a record that is not an object", "Records", "a record must be an object, not str"),
    ("a record that is null", None, "a record must be an object, not NoneType"),
    ("a record without s3", {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}, "s3.bucket.name"),
    ("s3 that is a list", record(s3=[]), "s3.bucket.name"),
    (
        "an object without key",
        record(s3={"bucket": {"name": "photos"}, "object": {"size": 1}}),
        "s3.object.key",
    ),
    ("a key that is a number", record(key=42), "s3.object.key"),
    ("an empty key", record(key=""), "s3.object.key"),
    ("a bucket without name", record(s3={"bucket": {}, "object": {"key": "k"}}), "s3.bucket.name"),
    ("a record from another source", {"eventSource": "aws:sqs"}, "'aws:sqs', not aws:s3"),
]


@pytest.mark.parametrize(
    ("bad", "reason"), [case[1:] for case in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_a_bad_record_is_reported_by_index_and_its_neighbours_are_read(bad: Any, reason: str) -> None:
    parsed = parse_message(body(record("uploads/first.png"), bad, record("uploads/third.png")))

    assert [event.key for event in parsed.events] == ["uploads/first.png", "uploads/third.png"]
    [problem] = parsed.problems
    assert problem.startswith("Records[1]: ") and reason in problem


def test_odd_optional_fields_are_read_as_unknown_not_as_errors() -> None:
    odd = record(eventName=7, eventTime=["x"])
    odd["s3"]["object"].update(size="3", eTag=5, sequencer={"a": 1})

    [event] = parse_message(body(odd)).events

    assert (event.event_name, event.event_time, event.size, event.etag, event.sequencer) == (
        "",
        None,
        None,
        None,
        None,
    )


# (case id, message body, what the NotAnS3Event says)
NOT_S3_MESSAGES = [
    ("a body that is not JSON", "hello", "not JSON"),
    ("a body that is a JSON list", "[1, 2]", "no S3 Records"),
    ("Records that is not a list", json.dumps({"Records": {"a": 1}}), "no S3 Records"),
    (
        "an SNS Message that is an object",
        json.dumps({"Type": "Notification", "Message": {"Records": []}}),
        "dict, not JSON text",
    ),
    ("an SNS Message that is not JSON", json.dumps({"Type": "Notification", "Message": "hi"}), "not JSON"),
    (
        "records from another service only",
        body({"eventSource": "aws:dynamodb"}),
        "no record of the message comes from aws:s3",
    ),
    ("a body that is not text", None, "NoneType, not JSON text"),
]


@pytest.mark.parametrize(
    ("message", "says"), [case[1:] for case in NOT_S3_MESSAGES], ids=[c[0] for c in NOT_S3_MESSAGES]
)
def test_a_message_that_is_no_s3_event_says_so(message: Any, says: str) -> None:
    with pytest.raises(NotAnS3Event) as raised:
        parse_message(message)

    assert says in str(raised.value)


def test_the_watcher_reports_bad_messages_and_records_and_keeps_the_good_ones() -> None:
    messages = [
        {"MessageId": "m1", "Body": body(record("uploads/a.png"), {"eventSource": "aws:s3"})},
        {"MessageId": "m2", "Body": "not json"},
        {
            "MessageId": "m3",
            "Body": json.dumps({"Type": "Notification", "Message": body(record("uploads/b.png"))}),
        },
        "a message that is not an object",
    ]
    asset_event = SimpleNamespace(extra={"payload": {"message_batch": messages}})

    events, problems = events_from_asset_events([asset_event])

    assert [event.key for event in events] == ["uploads/a.png", "uploads/b.png"]
    assert len(problems) == 3
    assert problems[0].startswith("message m1, Records[1]: s3.bucket.name")
    assert problems[1].startswith("message m2: message body is not JSON")
    assert problems[2] == "a message that is a str, not an SQS message"
