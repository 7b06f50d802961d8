"""S3 event notifications as they arrive on SQS: decoded, filtered, and never silently dropped.

One SQS message can carry several records; keys are form-encoded (``+`` for spaces, ``%2B`` for
``+``); S3 sends an ``s3:TestEvent`` when a notification is configured; a message relayed through SNS
wraps the S3 document in ``Message``. Anything that is not an S3 event is reported, not guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus


class NotAnS3Event(ValueError):
    """A message body that is neither an S3 event notification nor an S3 test event."""


@dataclass(frozen=True)
class S3ObjectEvent:
    """One object from one record; ``key`` is decoded."""

    bucket: str
    key: str
    event_name: str
    size: int | None
    etag: str | None
    sequencer: str | None
    event_time: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParsedMessage:
    """The object events of one message, and the records that were not object events (each with its
    index and why), so a bad record is reported and never costs its neighbours."""

    events: list[S3ObjectEvent]
    problems: list[str]


def parse_message(body: Any) -> ParsedMessage:
    """One SQS message body (no events for a test event). Raises NotAnS3Event when the body as a
    whole is not an S3 event notification."""
    if not isinstance(body, str):
        raise NotAnS3Event(f"message body is a {type(body).__name__}, not JSON text")
    try:
        document = json.loads(body)
    except ValueError as error:
        raise NotAnS3Event(f"message body is not JSON: {error}") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        return parse_message(document["Message"])
    if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
        return ParsedMessage([], [])
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        raise NotAnS3Event(f"message body has no S3 Records: {body[:200]!r}")
    if not any(
        isinstance(record, dict) and record.get("eventSource") == "aws:s3" for record in document["Records"]
    ):
        raise NotAnS3Event("no record of the message comes from aws:s3")
    events, problems = [], []
    for index, record in enumerate(document["Records"]):
        try:
            events.append(object_event(record))
        except NotAnS3Event as error:
            problems.append(f"Records[{index}]: {error}")
    return ParsedMessage(events, problems)


def object_event(record: Any) -> S3ObjectEvent:
    """One record of a notification as an object event; raises NotAnS3Event saying what is missing."""
    if not isinstance(record, dict):
        raise NotAnS3Event(f"a record must be an object, not {type(record).__name__}")
    if record.get("eventSource") != "aws:s3":
        raise NotAnS3Event(f"record from {record.get('eventSource')!r}, not aws:s3")
    s3 = record.get("s3")
    bucket = s3.get("bucket") if isinstance(s3, dict) else None
    obj = s3.get("object") if isinstance(s3, dict) else None
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str) or not bucket["name"]:
        raise NotAnS3Event("s3.bucket.name is missing or not a string")
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise NotAnS3Event("s3.object.key is missing or not a string")
    size = obj.get("size")
    etag = obj.get("eTag") or obj.get("etag")
    return S3ObjectEvent(
        bucket=bucket["name"],
        key=unquote_plus(obj["key"]),
        event_name=_text_or_none(record.get("eventName")) or "",
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        etag=etag.strip('"') or None if isinstance(etag, str) else None,
        sequencer=_text_or_none(obj.get("sequencer")),
        event_time=_text_or_none(record.get("eventTime")),
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ObjectFilter:
    """Which objects a consumer wants: key prefix, suffix and/or a regular expression; created events only."""

    prefix: str = ""
    suffix: str = ""
    pattern: str | None = None
    created_only: bool = True

    def matches(self, event: S3ObjectEvent) -> bool:
        if self.created_only and not event.event_name.startswith("ObjectCreated"):
            return False
        if not event.key.startswith(self.prefix) or not event.key.endswith(self.suffix):
            return False
        return self.pattern is None or re.search(self.pattern, event.key) is not None
