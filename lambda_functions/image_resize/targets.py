"""Turn the three accepted event shapes into the list of objects to resize.

- an S3 notification (``Records[].s3``): keys arrive URL-encoded with quote_plus and are decoded
  here (Powertools' ``S3Object.key`` returns them raw);
  records other than ``ObjectCreated:*`` are skipped;
- one explicit object: ``{"bucket": "b", "key": "k"}`` (a raw, not URL-encoded key);
- a batch from ``LambdaMapOperator``: ``{"items": [{"bucket": ..., "key": ...}, ...]}``.

Each entry is a :class:`Target`, or already a result dict when the entry itself is unusable, so
one bad item never fails its batch. Results keep the order of the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event


@dataclass(frozen=True)
class Target:
    bucket: str
    key: str


def targets_from_event(event: Any) -> list[Target | dict[str, Any]]:
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return [_from_record(record) for record in S3Event(event).records]
    if isinstance(event, dict) and isinstance(event.get("items"), list):
        return [_from_item(item) for item in event["items"]]
    if isinstance(event, dict) and "bucket" in event and "key" in event:
        return [_from_item(event)]
    raise ValueError(
        'expected an S3 event, {"bucket": ..., "key": ...} or {"items": [{"bucket": ..., "key": ...}]}'
    )


def _from_record(record: Any) -> Target | dict[str, Any]:
    if record.get("eventSource") != "aws:s3":
        return {
            "status": "rejected",
            "reason": f"not an S3 record (eventSource {record.get('eventSource')!r})",
        }
    target = Target(bucket=record.s3.bucket.name, key=unquote_plus(record.s3.get_object.key))
    if not record.event_name.startswith("ObjectCreated:"):
        return {
            **_describe(target),
            "status": "skipped",
            "reason": f"event {record.event_name} creates no object",
        }
    return target


def _from_item(item: Any) -> Target | dict[str, Any]:
    if not isinstance(item, dict):
        return {
            "status": "rejected",
            "reason": f"an item must be an object with bucket and key, got {item!r:.80}",
        }
    bucket, key = item.get("bucket"), item.get("key")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        return {
            "bucket": bucket,
            "key": key,
            "status": "rejected",
            "reason": "bucket and key must be non-empty strings",
        }
    return Target(bucket=bucket, key=key)


def _describe(target: Target) -> dict[str, str]:
    return {"bucket": target.bucket, "key": target.key}
