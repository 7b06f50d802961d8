"""Validate and transform a batch of orders (contract in transform.py and validation.py).

Input: ``{"orders": [...]}``, or ``{"items": [...]}`` as ``LambdaMapOperator`` batches send it.
Settings (environment): ``ORDER_MAX_ITEMS`` (default 100 items per order) and
``ORDER_ANOMALY_THRESHOLD_USD`` (default 10000.00). Logs counts only, never order contents.
The output is about twice the input's size, so batches should stay under ~2.5 MB to fit Lambda's
6 MB response limit; such a batch peaks around 60 MB of memory, within the configured 128 MB.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

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


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    result = transform_orders(
        orders_from_event(event), max_items=MAX_ITEMS, anomaly_threshold_usd=ANOMALY_THRESHOLD_USD
    )
    logger.info(
        "Transformed orders",
        extra={
            "valid": len(result["valid"]),
            "rejects": len(result["rejects"]),
            "anomalies": sum(1 for order in result["valid"] if order["anomalies"]),
        },
    )
    return result
