"""Validate and price a batch of raw orders: ``{"valid": [...], "rejects": [...]}``.

Money is computed with :class:`~decimal.Decimal` and serialized as strings with exactly two
decimals (``"1234.50"``): exact, and safe for JSON consumers that would turn numbers into
floats. ``line_total = qty * unit_price`` in the order's currency; ``line_total_usd`` is that
times the rate, rounded half-even to cents; ``order_total_usd`` is the sum of the rounded lines,
so the lines always add up to the order. Anomalies are flags on valid orders (``high_total``:
``order_total_usd`` above the threshold), never rejections. Output order follows input order.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rates import RATES_VERSION, USD_PER_UNIT
from validation import Order, Rejection, check_money, parse_order

CENT = Decimal("0.01")
HIGH_TOTAL = "high_total"


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_EVEN))


def price_order(order: Order, anomaly_threshold_usd: Decimal) -> dict[str, Any]:
    rate = USD_PER_UNIT[order.currency]
    lines = []
    order_total = order_total_usd = Decimal(0)
    for index, item in enumerate(order.items):
        line_total = check_money(item.qty * item.unit_price, f"items[{index}].line_total")
        line_total_usd = check_money(
            (line_total * rate).quantize(CENT, rounding=ROUND_HALF_EVEN), f"items[{index}].line_total_usd"
        )
        order_total += line_total
        order_total_usd += line_total_usd
        lines.append(
            {
                "sku": item.sku,
                "qty": item.qty,
                "unit_price": money(item.unit_price),
                "line_total": money(line_total),
                "line_total_usd": money(line_total_usd),
            }
        )
    check_money(order_total, "order_total")
    check_money(order_total_usd, "order_total_usd")
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "created_at": order.created_at.isoformat().replace("+00:00", "Z"),
        "status": order.status,
        "shipping_country": order.shipping_country,
        "currency": order.currency,
        "usd_per_unit": str(rate),
        "rates_version": RATES_VERSION,
        "items": lines,
        "item_count": len(lines),
        "quantity_total": sum(item.qty for item in order.items),
        "order_total": money(order_total),
        "order_total_usd": money(order_total_usd),
        "anomalies": [HIGH_TOTAL] if order_total_usd > anomaly_threshold_usd else [],
    }


def transform_orders(orders: list[Any], *, max_items: int, anomaly_threshold_usd: Decimal) -> dict[str, Any]:
    valid: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for raw in orders:
        try:
            valid.append(price_order(parse_order(raw, max_items), anomaly_threshold_usd))
        except Rejection as rejection:
            order_id = raw.get("order_id") if isinstance(raw, dict) else None
            rejects.append(
                {
                    "order_id": order_id if isinstance(order_id, str) else None,
                    "reason": rejection.reason,
                    "field": rejection.field,
                    "detail": rejection.detail,
                }
            )
    return {"valid": valid, "rejects": rejects}
