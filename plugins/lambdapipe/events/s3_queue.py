"""Take the S3 objects one consumer wants off a queue of S3 event notifications; leave the rest.

Several consumers may share one notification queue (a sensor per prefix, say). A poll receives the
visible messages, keeps those with records the consumer wants and makes every other message visible
again at once, untouched, for the other consumers. Nothing is deleted until at least ``min_count``
wanted objects are visible together, so a wait that times out consumes nothing; then exactly the
messages whose records are returned are deleted (a message whose delete failed is not returned: it
comes back, and is returned, later). A message may hold several records: the object records another
consumer wants are first sent back to the queue as a message of their own, so taking one record never
consumes a neighbour's (if that send fails, the message is released whole and nothing of it taken).
Shared by ``S3UploadSensor.poke`` and ``S3UploadTrigger``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lambdapipe.events.s3_events import (
    NotAnS3Event,
    ObjectFilter,
    ParsedMessage,
    S3ObjectEvent,
    object_event,
    parse_message,
)

log = logging.getLogger(__name__)

SQS_BATCH = 10  # receive / delete / change-visibility batch limit


@dataclass(frozen=True)
class QueuePoll:
    """One poll: the objects taken (their messages deleted) and how many wanted objects were visible."""

    taken: list[S3ObjectEvent]
    visible: int


async def take_objects(
    sqs: Any,
    queue_url: str,
    wanted: ObjectFilter,
    *,
    bucket: str | None = None,
    min_count: int = 1,
    wait_s: int = 0,
    max_messages: int = 100,
    visibility_timeout: int = 30,
) -> QueuePoll:
    """Receive up to ``max_messages``; take the wanted objects if there are ``min_count``, release the rest.

    ``sqs`` is an aiobotocore SQS client. Objects are de-duplicated (S3 may deliver a record twice)
    and keep the queue's order.
    """
    messages = await _receive(sqs, queue_url, max_messages, wait_s, visibility_timeout)
    parsed = {message["MessageId"]: _wanted_records(message, wanted, bucket) for message in messages}
    matches = {message_id: message.events for message_id, message in parsed.items()}
    mine = [message for message in messages if matches[message["MessageId"]]]
    others = [message for message in messages if not matches[message["MessageId"]]]
    visible = len(_unique(event for message in mine for event in matches[message["MessageId"]]))
    if visible < min_count:
        await _release(sqs, queue_url, messages)
        return QueuePoll([], visible)
    kept_whole = [
        message for message in mine if not await _send_back_others(sqs, queue_url, message, wanted, bucket)
    ]
    mine = [message for message in mine if message not in kept_whole]
    await _release(sqs, queue_url, others + kept_whole)
    deleted = await _delete(sqs, queue_url, mine)
    for message_id in deleted:
        if parsed[message_id].problems:  # deleted for its wanted records: say what else it held
            log.warning(
                "Message %s also held records that are not S3 object events: %s",
                message_id,
                "; ".join(parsed[message_id].problems),
            )
    taken = _unique(
        event
        for message in mine
        if message["MessageId"] in deleted
        for event in matches[message["MessageId"]]
    )
    return QueuePoll(taken, visible)


def _wanted_records(message: dict[str, Any], wanted: ObjectFilter, bucket: str | None) -> ParsedMessage:
    """The wanted object events of a message, with what else it held that was not an object event."""
    try:
        parsed = parse_message(message.get("Body", ""))
    except NotAnS3Event:
        return ParsedMessage([], [])  # someone else's message: released untouched
    found = [event for event in parsed.events if _takes(event, wanted, bucket)]
    return ParsedMessage(found, parsed.problems)


async def _send_back_others(
    sqs: Any, queue_url: str, message: dict[str, Any], wanted: ObjectFilter, bucket: str | None
) -> bool:
    """Send the message's object records this consumer does not take back as a new message; False if that failed."""
    others = [
        record
        for record in _records(message.get("Body", ""))
        if _is_object_record(record) and not _takes(object_event(record), wanted, bucket)
    ]
    if not others:
        return True
    try:
        await sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": others}))
    except Exception as error:  # any failure: keep the whole message rather than lose the records
        log.warning("Could not send back the other records of message %s: %s", message["MessageId"], error)
        return False
    return True


def _records(body: str) -> list[Any]:
    """The raw records of an S3 notification body (unwrapped from SNS), as ``parse_message`` reads them."""
    document = json.loads(body)
    if document.get("Type") == "Notification" and "Message" in document:
        document = json.loads(document["Message"])
    return document["Records"]


def _is_object_record(record: Any) -> bool:
    try:
        object_event(record)
    except NotAnS3Event:
        return False
    return True


def _takes(event: S3ObjectEvent, wanted: ObjectFilter, bucket: str | None) -> bool:
    return wanted.matches(event) and bucket in (None, event.bucket)


def _unique(events: Iterable[S3ObjectEvent]) -> list[S3ObjectEvent]:
    seen: dict[tuple[Any, ...], S3ObjectEvent] = {}
    for event in events:
        identity = (event.bucket, event.key, event.sequencer or (event.etag, event.event_time))
        seen.setdefault(identity, event)
    return list(seen.values())


async def _receive(
    sqs: Any, queue_url: str, max_messages: int, wait_s: int, visibility_timeout: int
) -> list[dict[str, Any]]:
    """Every message visible now (up to ``max_messages``); received ones stay invisible meanwhile."""
    received: list[dict[str, Any]] = []
    while len(received) < max_messages:
        response = await sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(SQS_BATCH, max_messages - len(received)),
            WaitTimeSeconds=0 if received else wait_s,
            VisibilityTimeout=visibility_timeout,
        )
        batch = response.get("Messages", [])
        if not batch:
            break
        received.extend(batch)
    return received


async def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make the messages visible again now (a failure only delays them until their visibility ends)."""
    for chunk in _chunks(messages):
        response = await sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(chunk)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning("Could not release message %s: %s", chunk[int(failure["Id"])]["MessageId"], failure)


async def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> set[str]:
    """Delete the messages; returns the ids of those deleted."""
    deleted = set()
    for chunk in _chunks(messages):
        response = await sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(chunk)
            ],
        )
        deleted.update(chunk[int(entry["Id"])]["MessageId"] for entry in response.get("Successful", []))
        for failure in response.get("Failed", []):
            log.warning(
                "Could not delete message %s (its objects are returned when it comes back): %s",
                chunk[int(failure["Id"])]["MessageId"],
                failure,
            )
    return deleted


def _chunks(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [messages[start : start + SQS_BATCH] for start in range(0, len(messages), SQS_BATCH)]
