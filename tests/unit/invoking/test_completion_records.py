"""Bad messages on a destination queue: anything that is not a completion record with a request id
reads as "not a record" (left for other waiters), never a crash; an odd attempt count reads as 1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdapipe.invoking.completion_records import parse_record

GOOD_CONTEXT = {"requestId": "r-1", "condition": "Success", "functionArn": "arn", "approximateInvokeCount": 2}

NOT_RECORDS = [
    ("a body that is not JSON", "{"),
    ("a body that is not text", None),
    ("a JSON list", "[]"),
    ("no requestContext", json.dumps({"responsePayload": 1})),
    ("an empty requestContext", json.dumps({"requestContext": {}})),
    ("a requestContext that is a string", json.dumps({"requestContext": "r-1"})),
    ("a request id that is a number", json.dumps({"requestContext": {"requestId": 7}})),
]


@pytest.mark.parametrize("message", [case[1] for case in NOT_RECORDS], ids=[case[0] for case in NOT_RECORDS])
def test_a_message_that_is_no_completion_record_reads_as_none(message: Any) -> None:
    assert parse_record(message) is None


@pytest.mark.parametrize(
    ("count", "attempts"),
    [("3", 3), ("three", 1), (2.5, 1), (True, 1), (None, 1), (-4, 1)],
    ids=["digits", "words", "a float", "a boolean", "missing", "negative"],
)
def test_an_odd_attempt_count_reads_as_one_attempt_and_the_record_is_kept(count: Any, attempts: int) -> None:
    document = {"requestContext": {**GOOD_CONTEXT, "approximateInvokeCount": count}, "responseContext": "odd"}

    record = parse_record(json.dumps(document))

    assert record is not None
    assert (record.request_id, record.attempts, record.succeeded) == ("r-1", attempts, True)
