"""S3 event notification records and message bodies, shaped as S3 sends them to SQS, for event tests."""

from __future__ import annotations

import json
from typing import Any


def record(key: Any = "uploads/good.png", **overrides: Any) -> dict[str, Any]:
    """One ObjectCreated record for ``key`` in bucket ``photos``; ``overrides`` replace top-level fields."""
    base = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-01-15T10:00:00.000Z",
        "s3": {
            "bucket": {"name": "photos"},
            "object": {"key": key, "size": 3, "eTag": '"abc"', "sequencer": "01"},
        },
    }
    return {**base, **overrides}


def body(*records: Any) -> str:
    """An SQS message body carrying ``records`` as S3 writes it."""
    return json.dumps({"Records": list(records)})
