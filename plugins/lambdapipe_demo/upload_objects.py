"""S3 calls on one version of an uploaded object: list, head, move it out of ``incoming/``.

A processed object leaves ``incoming/`` (to ``processed/`` or ``quarantine/``), so the reconcile run
lists only what is new instead of every object ever uploaded. A move names the version by its ETag
on both calls (copy ``CopySourceIfMatch``, delete ``IfMatch``): an object overwritten meanwhile is a
new upload with its own event, and stays where it is for the run that processes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# The object is gone, or the key now holds another version than the one named.
NOT_THIS_VERSION = frozenset({"404", "NoSuchKey", "NotFound", "PreconditionFailed", "412"})


@dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str
    size: int


def listed_objects(s3: Any, bucket: str, prefix: str) -> Iterator[ListedObject]:
    """Every object under ``prefix`` as the listing shows it (one call per 1,000 objects, no HEAD)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                yield ListedObject(obj["Key"], obj["ETag"].strip('"'), obj["Size"])


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject's answer, or None when there is no such object."""
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def move_version(
    s3: Any, bucket: str, key: str, etag: str, target: str, extra_args: dict[str, Any] | None = None
) -> bool:
    """Move the version ``etag`` of ``key`` to ``target``; False when ``key`` no longer holds it.

    boto3's managed copy copies in parts above its threshold (CopyObject is refused above 5 GB).
    Idempotent: a retry after the copy finds the source gone and returns False, the target in place.
    """
    entity_tag = f'"{etag}"'  # quoted, as HTTP's If-Match has it (the local stack refuses it bare)
    try:
        s3.copy(
            CopySource={"Bucket": bucket, "Key": key},
            Bucket=bucket,
            Key=target,
            ExtraArgs={"CopySourceIfMatch": entity_tag, **(extra_args or {})},
        )
        s3.delete_object(Bucket=bucket, Key=key, IfMatch=entity_tag)
    except ClientError as error:
        if error.response["Error"]["Code"] in NOT_THIS_VERSION:
            return False
        raise
    return True
