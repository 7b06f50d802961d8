"""Write a resized copy of each image under ``resized/`` in the same bucket; one result per item.

Settings (environment): ``MAX_SIDE`` (pixels, default 256), ``MAX_IMAGE_PIXELS`` (decompression
bomb guard, default 25,000,000), ``MAX_OBJECT_BYTES`` (largest object read, default 20 MiB).
Item statuses: ``resized``, ``skipped`` (an output of this function, or not a creation event),
``rejected`` with a ``reason`` (missing object, empty, not an image, truncated, too large,
unsupported) and ``failed`` with the S3 error as the ``reason`` when the object cannot be read
(access denied, a KMS key it may not use, an archived storage class): that item fails alone. Transient
S3 errors (5xx, throttling) raise, so the whole batch is retried.
boto3 comes from the Lambda runtime and honours ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
from collections import Counter
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from imaging import RejectedImage, resize_image
from targets import Target, targets_from_event

OUTPUT_PREFIX = "resized/"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404"})
TRANSIENT_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"})

MAX_SIDE = int(os.environ.get("MAX_SIDE", "256"))
MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", "25000000"))
MAX_OBJECT_BYTES = int(os.environ.get("MAX_OBJECT_BYTES", str(20 * 1024 * 1024)))

logger = Logger()


@cache
def s3_client() -> Any:
    return boto3.client("s3")


class UnreadableObject(Exception):
    """S3 refused to return the object for a reason a retry of the batch does not fix."""


def read_object(target: Target) -> bytes:
    """The object's bytes; a missing object or one above MAX_OBJECT_BYTES is rejected unread."""
    try:
        response = s3_client().get_object(Bucket=target.bucket, Key=target.key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in MISSING_OBJECT_CODES:
            raise RejectedImage(f"object not found ({code})") from None
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        if status >= 500 or code in TRANSIENT_CODES:
            raise
        message = exc.response.get("Error", {}).get("Message", "")
        raise UnreadableObject(f"cannot read the object: S3 GetObject {code}: {message}") from None
    with response["Body"] as body:
        if response["ContentLength"] > MAX_OBJECT_BYTES:
            raise RejectedImage(
                f"object is {response['ContentLength']} bytes; the limit is {MAX_OBJECT_BYTES}"
            )
        return body.read()


def resize_object(target: Target) -> dict[str, Any]:
    result: dict[str, Any] = {"bucket": target.bucket, "key": target.key}
    if target.key.startswith(OUTPUT_PREFIX):
        return {**result, "status": "skipped", "reason": f"already under {OUTPUT_PREFIX}"}
    try:
        resized = resize_image(read_object(target), MAX_SIDE, MAX_IMAGE_PIXELS)
    except RejectedImage as exc:
        logger.warning("Rejected image", extra={**result, "reason": str(exc)})
        return {**result, "status": "rejected", "reason": str(exc)}
    except UnreadableObject as exc:
        logger.error("Unreadable object", extra={**result, "reason": str(exc)})
        return {**result, "status": "failed", "reason": str(exc)}
    output_key = OUTPUT_PREFIX + target.key
    s3_client().put_object(
        Bucket=target.bucket, Key=output_key, Body=resized.data, ContentType=resized.content_type
    )
    return {
        **result,
        "status": "resized",
        "output_key": output_key,
        "format": resized.format,
        "width": resized.width,
        "height": resized.height,
        "original_width": resized.original_width,
        "original_height": resized.original_height,
        "bytes": len(resized.data),
    }


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    results = [
        resize_object(target) if isinstance(target, Target) else target
        for target in targets_from_event(event)
    ]
    summary = dict(sorted(Counter(result["status"] for result in results).items()))
    logger.info("Processed images", extra={"summary": summary})
    return {"results": results, "summary": summary}
