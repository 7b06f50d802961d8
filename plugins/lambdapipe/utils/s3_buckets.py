"""Check the buckets a fan-out names before it starts, so a typo fails in one line, not mid-run.

Without this, a missing results bucket surfaced as botocore's ``NoSuchBucket`` traceback from deep
in the input upload, naming neither the parameter nor the bucket.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

MISSING = {"404", "NoSuchBucket", "NotFound"}
FORBIDDEN = {"403", "AccessDenied", "Forbidden"}


class MissingBucketError(ValueError):
    """A bucket a parameter names does not exist, or this connection may not use it."""


def require_bucket(s3_client: Any, bucket: str, parameter: str) -> None:
    """Raise ``MissingBucketError`` naming ``parameter`` and ``bucket`` unless the bucket is usable."""
    try:
        s3_client.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in MISSING:
            raise MissingBucketError(
                f"{parameter} {bucket!r} does not exist: create it or name another"
            ) from None
        if code in FORBIDDEN:
            raise MissingBucketError(
                f"{parameter} {bucket!r} is not accessible with this connection"
            ) from None
        raise
