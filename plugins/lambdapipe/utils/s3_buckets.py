"""Whether an S3 bucket is there, and a one-line failure naming the parameter when it is not.

The tables' warehouse creates its bucket when missing; a fan-out checks the buckets it names before
it starts (a missing results bucket used to surface as botocore's ``NoSuchBucket`` traceback from
deep in the input upload, naming neither the parameter nor the bucket).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

MISSING = ("404", "NoSuchBucket")
FORBIDDEN = ("403", "AccessDenied", "Forbidden")


class MissingBucketError(ValueError):
    """A bucket a parameter names does not exist, or this connection may not use it."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def bucket_exists(s3_client: Any, bucket: str) -> bool:
    """True when ``HeadBucket`` finds it, False when S3 says it is missing; other errors raise."""
    try:
        s3_client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _code(error) in MISSING:
            return False
        raise
    return True


def require_bucket(s3_client: Any, bucket: str, parameter: str) -> None:
    """Raise ``MissingBucketError`` naming ``parameter`` and ``bucket`` unless the bucket is usable."""
    try:
        exists = bucket_exists(s3_client, bucket)
    except ClientError as error:
        if _code(error) in FORBIDDEN:
            raise MissingBucketError(
                f"{parameter} {bucket!r} is not accessible with this connection"
            ) from None
        raise
    if not exists:
        raise MissingBucketError(f"{parameter} {bucket!r} does not exist: create it or name another")
