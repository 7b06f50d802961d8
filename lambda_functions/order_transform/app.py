"""Validate and transform a batch of orders (contract in transform.py and validation.py).

Input: ``{"orders": [...]}``, or ``{"items": [...]}`` as ``LambdaMapOperator`` batches send it; the
answer is ``{"valid": [...], "rejects": [...]}``. Or, for hours too big to pass through payloads,
``{"parts": [{"bucket", "key", "output_key"}, ...]}``: each part's orders (JSON lines) are read from
S3 and that answer is written to ``output_key`` in the same bucket (overwritten by a retry, so a part
has one answer); the function returns ``{"results": [{"key", "output_key", "valid", "rejects",
"anomalies"}, ...]}``, counts only.
Settings (environment): ``ORDER_MAX_ITEMS`` (default 100 items per order) and
``ORDER_ANOMALY_THRESHOLD_USD`` (default 10000.00). Logs counts only, never order contents.
The output is about twice the input's size, so batches should stay under ~2.5 MB to fit Lambda's
6 MB response limit; such a batch peaks around 60 MB of memory, within the configured 128 MB.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from transform import transform_orders

MAX_ITEMS = int(os.environ.get("ORDER_MAX_ITEMS", "100"))
ANOMALY_THRESHOLD_USD = Decimal(os.environ.get("ORDER_ANOMALY_THRESHOLD_USD", "10000.00"))

logger = Logger()


def orders_from_event(event: Any) -> list[Any]:
    for key in ("orders", "items"):
        if isinstance(event, dict) and isinstance(event.get(key), list):
            return event[key]
    raise ValueError('expected {"orders": [...]} (or {"items": [...]} from a batching map)')


def counts(result: dict[str, Any]) -> dict[str, int]:
    return {
        "valid": len(result["valid"]),
        "rejects": len(result["rejects"]),
        "anomalies": sum(1 for order in result["valid"] if order["anomalies"]),
    }


def part_location(part: Any, position: int) -> tuple[str, str, str]:
    fields = ("bucket", "key", "output_key")
    if not isinstance(part, dict) or not all(
        isinstance(part.get(name), str) and part[name] for name in fields
    ):
        raise ValueError(f"parts[{position}] must name bucket, key and output_key, got {part!r:.200}")
    return part["bucket"], part["key"], part["output_key"]


def transform_part(s3: Any, part: Any, position: int) -> dict[str, Any]:
    """Transform one staged part and write its answer next to it; returns the counts."""
    bucket, key, output_key = part_location(part, position)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    orders = [json.loads(line) for line in body.splitlines() if line.strip()]
    result = transform_orders(orders, max_items=MAX_ITEMS, anomaly_threshold_usd=ANOMALY_THRESHOLD_USD)
    s3.put_object(
        Bucket=bucket,
        Key=output_key,
        Body=json.dumps(result, separators=(",", ":")).encode(),
        ContentType="application/json",
    )
    return {"key": key, "output_key": output_key, **counts(result)}


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and isinstance(event.get("parts"), list):
        s3 = boto3.client("s3")
        results = [transform_part(s3, part, position) for position, part in enumerate(event["parts"])]
        logger.info("Transformed staged parts", extra={"parts": len(results)})
        return {"results": results}
    result = transform_orders(
        orders_from_event(event), max_items=MAX_ITEMS, anomaly_threshold_usd=ANOMALY_THRESHOLD_USD
    )
    logger.info("Transformed orders", extra=counts(result))
    return result
