"""Where a fan-out's items come from: a list (or XCom), an S3 prefix, or a DynamoDB query.

Items are resolved in the worker, before the fan-out, and stored as the run's input in S3: the
fan-out itself (possibly in the triggerer) then only needs a small, serializable description.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from lambdapipe.events.dynamodb_json import read_items


class ItemSourceError(ValueError):
    """The item source is missing, ambiguous or unreadable; the message names it."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ItemSourceError(f"items_s3_uri must look like s3://bucket/prefix (got {uri!r})")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_items(s3_client: Any, uri: str, mode: str) -> list[Any]:
    """``objects``: one item per object ({bucket, key, size, etag}); ``jsonl``: one item per line."""
    if mode not in ("objects", "jsonl"):
        raise ItemSourceError(f"items_s3_format must be 'objects' or 'jsonl' (got {mode!r})")
    bucket, prefix = split_s3_uri(uri)
    items: list[Any] = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/"):
                continue
            if mode == "objects":
                items.append(
                    {"bucket": bucket, "key": obj["Key"], "size": obj["Size"], "etag": obj["ETag"].strip('"')}
                )
                continue
            body = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            for number, line in enumerate(body.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except ValueError as error:
                    raise ItemSourceError(
                        f"s3://{bucket}/{obj['Key']} line {number} is not JSON: {error}"
                    ) from None
    return items


def dynamodb_items(dynamodb_client: Any, query: dict[str, Any]) -> list[Any]:
    """Every item of a low-level ``Query`` (all pages), as plain JSON: numbers exact (int or decimal
    string), binary values as base64 text (see :func:`lambdapipe.events.dynamodb_json.read_items`)."""

    if "TableName" not in query:
        raise ItemSourceError("items_dynamodb_query needs TableName (and the Query's other parameters)")
    return read_items(dynamodb_client, "Query", **query)
