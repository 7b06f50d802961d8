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


def parse_message(body: str) -> list[S3ObjectEvent]:
    """The object events of one SQS message body ([] for a test event). Raises NotAnS3Event."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise NotAnS3Event(f"message body is not JSON: {error}") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        return parse_message(document["Message"])
    if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        raise NotAnS3Event(f"message body has no S3 Records: {body[:200]!r}")
    events = []
    for record in document["Records"]:
        if record.get("eventSource") != "aws:s3":
            raise NotAnS3Event(f"record from {record.get('eventSource')!r}, not aws:s3")
        s3 = record["s3"]
        obj = s3["object"]
        events.append(
            S3ObjectEvent(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                event_name=record.get("eventName", ""),
                size=obj.get("size"),
                etag=(obj.get("eTag") or obj.get("etag") or "").strip('"') or None,
                sequencer=obj.get("sequencer"),
                event_time=record.get("eventTime"),
            )
        )
    return events


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
