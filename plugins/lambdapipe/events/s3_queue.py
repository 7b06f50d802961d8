"""Hold the S3 objects one consumer wants on a queue of S3 event notifications; leave the rest.

Several consumers may share one notification queue (a sensor per prefix, say). A poll receives the
visible messages, keeps those with records the consumer wants and makes every other message visible
again at once, untouched, for the other consumers. Nothing is held until at least ``min_count``
wanted objects are visible together, so a wait that times out consumes nothing.

Consuming is at-least-once, in two steps: ``hold_objects`` returns the wanted objects and keeps
their messages hidden for ``visibility_timeout``; ``acknowledge`` deletes them once the consumer's
result is persisted (the sensor: after its task succeeded). A consumer that dies in between lets the
messages come back for its retry. A message may hold several records: at acknowledge time the object
records another consumer wants are first sent back to the queue as a message of their own, so taking
one record never consumes a neighbour's (if that send fails, the message is not deleted).
Released messages never reach a dead-letter queue through this consumer's receives
(``queue_redrive``). Shared by ``S3UploadSensor`` and ``S3UploadTrigger``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lambdapipe.events.queue_redrive import RECEIVE_COUNT, receive_limit, renew_worn_messages
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
    """One poll: the objects held, their messages (``acknowledge`` them), how many wanted objects were visible."""

    taken: list[S3ObjectEvent]
    visible: int
    held: list[dict[str, Any]]  # message_id, receipt_handle, send_back (other consumers' records)


async def hold_objects(
    sqs: Any,
    queue_url: str,
    wanted: ObjectFilter,
    *,
    bucket: str | None = None,
    min_count: int = 1,
    wait_s: int = 0,
    max_messages: int = 100,
    visibility_timeout: int = 300,
) -> QueuePoll:
    """Receive up to ``max_messages``; hold the wanted objects if there are ``min_count``, release the rest.

    ``sqs`` is an aiobotocore SQS client. Objects are de-duplicated (S3 may deliver a record twice)
    and keep the queue's order.
    """
    messages = await _receive(sqs, queue_url, max_messages, wait_s, visibility_timeout)
    parsed = {message["MessageId"]: _wanted_records(message, wanted, bucket) for message in messages}
    mine = [message for message in messages if parsed[message["MessageId"]].events]
    others = [message for message in messages if not parsed[message["MessageId"]].events]
    taken = _unique(event for message in mine for event in parsed[message["MessageId"]].events)
    limit = await receive_limit(sqs, queue_url) if messages else None
    if len(taken) < min_count:
        await _release(sqs, queue_url, await renew_worn_messages(sqs, queue_url, messages, limit))
        return QueuePoll([], len(taken), [])
    await _release(sqs, queue_url, await renew_worn_messages(sqs, queue_url, others, limit))
    for message in mine:
        if parsed[message["MessageId"]].problems:  # consumed for its wanted records: say what else it held
            log.warning(
                "Message %s also held records that are not S3 object events: %s",
                message["MessageId"],
                "; ".join(parsed[message["MessageId"]].problems),
            )
    held = [
        {
            "message_id": message["MessageId"],
            "receipt_handle": message["ReceiptHandle"],
            "send_back": _other_consumers_records(message, wanted, bucket),
        }
        for message in mine
    ]
    return QueuePoll(taken, len(taken), held)


async def acknowledge(sqs: Any, queue_url: str, held: list[dict[str, Any]]) -> int:
    """Delete the held messages, after sending back the records other consumers want; the number deleted.

    A message whose records could not be sent back, or whose delete failed, comes back later.
    """
    deletable = []
    for message in held:
        if message["send_back"]:
            try:
                await sqs.send_message(
                    QueueUrl=queue_url, MessageBody=json.dumps({"Records": message["send_back"]})
                )
            except Exception as error:  # any failure: keep the whole message rather than lose the records
                log.warning(
                    "Could not send back the other records of message %s: %s", message["message_id"], error
                )
                continue
        deletable.append(message)
    return len(await _delete(sqs, queue_url, deletable))


async def release_held(sqs: Any, queue_url: str, held: list[dict[str, Any]]) -> None:
    """Make held messages visible again now (their consumer failed and will poll again)."""
    await _release(
        sqs, queue_url, [{"MessageId": m["message_id"], "ReceiptHandle": m["receipt_handle"]} for m in held]
    )


def _other_consumers_records(message: dict[str, Any], wanted: ObjectFilter, bucket: str | None) -> list[Any]:
    """The message's object records this consumer does not take (raw, as S3 wrote them)."""
    return [
        record
        for record in _records(message.get("Body", ""))
        if _is_object_record(record) and not _takes(object_event(record), wanted, bucket)
    ]


def _wanted_records(message: dict[str, Any], wanted: ObjectFilter, bucket: str | None) -> ParsedMessage:
    """The wanted object events of a message, with what else it held that was not an object event."""
    try:
        parsed = parse_message(message.get("Body", ""))
    except NotAnS3Event:
        return ParsedMessage([], [])  # someone else's message: released untouched
    found = [event for event in parsed.events if _takes(event, wanted, bucket)]
    return ParsedMessage(found, parsed.problems)


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
            MessageSystemAttributeNames=[RECEIVE_COUNT],
            MessageAttributeNames=["All"],
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


async def _delete(sqs: Any, queue_url: str, held: list[dict[str, Any]]) -> set[str]:
    """Delete the held messages; returns the ids of those deleted."""
    deleted = set()
    for chunk in _chunks(held):
        response = await sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["receipt_handle"]}
                for index, message in enumerate(chunk)
            ],
        )
        deleted.update(chunk[int(entry["Id"])]["message_id"] for entry in response.get("Successful", []))
        for failure in response.get("Failed", []):
            log.warning(
                "Could not delete message %s (its objects are returned again when it comes back): %s",
                chunk[int(failure["Id"])]["message_id"],
                failure,
            )
    return deleted


def _chunks(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [messages[start : start + SQS_BATCH] for start in range(0, len(messages), SQS_BATCH)]
