"""Lambda payloads: JSON encoding, Lambda's size limits, and the S3 claim check for large ones.

Lambda refuses requests above 6 MB (synchronous) and 1 MB (asynchronous). Rather than failing, an
operator given an ``offload_bucket`` stores the payload in S3 and sends a small reference instead:

    {"lambdapipe_claim_check": {"bucket": "...", "key": "...", "sha256": "...", "size": 12345}}

A function reads it with ``s3.get_object`` (and may answer with a reference of its own when its
result is too large to return: the task's XCom is then that reference). Payload contents are never
logged: only their size and sha256.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

SYNC_LIMIT_BYTES = 6 * 1024 * 1024
ASYNC_LIMIT_BYTES = 1024 * 1024
CLAIM_CHECK_KEY = "lambdapipe_claim_check"


class PayloadError(ValueError):
    """A payload that cannot be sent as given; the message says why and what to do."""


@dataclass(frozen=True)
class ClaimCheck:
    """Where an offloaded payload lives in S3."""

    bucket: str
    key: str
    sha256: str
    size: int

    def to_payload(self) -> dict[str, Any]:
        return {CLAIM_CHECK_KEY: asdict(self)}


def encode_payload(payload: Any) -> bytes:
    """dict/list/number/None as JSON; a str must already be JSON text (a rendered template). NaN and
    Infinity are refused: Python writes them, but they are not JSON and other runtimes' parsers fail."""
    if payload is None:
        return b"{}"
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PayloadError(
                f"payload bytes are not UTF-8 text ({error.reason} at byte {error.start})"
            ) from None
    if isinstance(payload, str):
        try:
            json.loads(payload, parse_constant=_refuse_constant)
        except ValueError as error:
            raise PayloadError(
                f"payload is a string but not JSON ({error}); pass a dict or JSON text"
            ) from None
        return payload.encode("utf-8")
    try:
        return json.dumps(payload, separators=(",", ":"), default=_not_json, allow_nan=False).encode("utf-8")
    except TypeError as error:
        raise PayloadError(f"payload is not JSON-serializable: {error}") from None
    except ValueError:
        raise PayloadError(
            "payload holds NaN or Infinity, which JSON cannot carry; send null or a string instead"
        ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} value {value!r:.80}")


def describe(payload: bytes) -> str:
    """What the logs may say about a payload: its size and digest, never its contents."""
    return f"{len(payload):,} bytes, sha256 {hashlib.sha256(payload).hexdigest()[:16]}"


def size_limit(invocation_type: str) -> int:
    return ASYNC_LIMIT_BYTES if invocation_type == "Event" else SYNC_LIMIT_BYTES


def check_size(payload: bytes, invocation_type: str, function_name: str) -> None:
    limit = size_limit(invocation_type)
    if len(payload) > limit:
        raise PayloadError(
            f"{function_name}: the {invocation_type} payload is {len(payload):,} bytes, above Lambda's "
            f"{limit:,}-byte limit; pass offload_bucket to send it through S3 as a claim check"
        )


def claim_check_key(prefix: str, payload: bytes) -> str:
    """Content-addressed, so a retried task reuses the object instead of writing another."""
    return f"{prefix.rstrip('/')}/{hashlib.sha256(payload).hexdigest()}.json"


def offload(payload: bytes, s3_client: Any, bucket: str, prefix: str) -> ClaimCheck:
    """Store ``payload`` in S3 (sync boto3 client) and return the claim check to send instead."""
    key = claim_check_key(prefix, payload)
    s3_client.put_object(Bucket=bucket, Key=key, Body=payload, ContentType="application/json")
    return ClaimCheck(bucket=bucket, key=key, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
