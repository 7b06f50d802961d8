"""Sample orders for the order-analytics pipeline: realistic shape, a chosen share of them invalid.

An order is what a shop's order service would store in the DynamoDB table ``orders``: ``order_id``,
``customer_id``, ``created_at`` (ISO 8601, sometimes with a local offset or milliseconds),
``status``, ``currency``, ``shipping_country`` and ``items`` (``sku``, ``qty``, ``unit_price`` as
Decimal; now and then a number sent as a string, which the transform accepts), plus the service's
own keys ``order_hour`` / ``order_time`` / ``order_bucket`` that the pipeline reads by (lambdapipe_demo/orders.py).

``invalid_share`` of the orders carry exactly one defect each, the first problem the transform will
find: a missing field, a wrong type, qty <= 0, an unknown currency, a price with too many decimals, a
SKU twice in one order, or a huge order (more lines than allowed). ``anomaly_share`` of the valid
ones are huge-value orders (valid, flagged ``high_total``). The same arguments give the same orders.

Usage (AWS_ENDPOINT_URL etc. set, or ``--aws-conn-id``)::

    .venv/bin/python include/sample_orders.py --count 1000 --start 2026-01-15T10:00:00Z --hours 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lambdapipe_demo.orders import order_bucket, order_hour, order_time

# Defect -> the reason order_transform reports for it (lambda_functions/order_transform/validation.py).
DEFECTS: dict[str, str] = {
    "missing_field": "missing_field",
    "wrong_type": "invalid_type",
    "non_positive_qty": "non_positive_qty",
    "unknown_currency": "unknown_currency",
    "too_many_decimals": "too_many_decimals",
    "duplicate_items": "duplicate_sku",
    "huge_order": "too_many_items",
}
MAX_ITEMS = 100  # order_transform's ORDER_MAX_ITEMS
# (currency, shipping country, weight, local units per USD, decimals of a price)
MARKETS = (
    ("USD", "US", 40, Decimal("1"), 2),
    ("EUR", "DE", 10, Decimal("0.93"), 2),
    ("EUR", "FR", 7, Decimal("0.93"), 2),
    ("EUR", "NL", 3, Decimal("0.93"), 2),
    ("GBP", "GB", 10, Decimal("0.79"), 2),
    ("CAD", "CA", 5, Decimal("1.37"), 2),
    ("AUD", "AU", 4, Decimal("1.52"), 2),
    ("JPY", "JP", 5, Decimal("149"), 0),
    ("CHF", "CH", 2, Decimal("0.88"), 2),
    ("SEK", "SE", 2, Decimal("10.5"), 2),
    ("INR", "IN", 3, Decimal("83"), 2),
    ("BRL", "BR", 2, Decimal("5.5"), 2),
    ("MXN", "MX", 2, Decimal("18"), 2),
    ("SGD", "SG", 2, Decimal("1.35"), 2),
    ("PLN", "PL", 3, Decimal("4"), 2),
)
STATUSES = (("paid", 50), ("shipped", 25), ("delivered", 15), ("pending", 7), ("cancelled", 3))
CATALOG_SIZE = 200
CET_COUNTRIES = ("DE", "FR", "NL", "PL", "SE", "CH")
CET = timezone(timedelta(hours=1))
CATEGORIES = ("TEE", "MUG", "BOOK", "LAMP", "SHOE", "BAG", "CAP", "PEN", "TOY", "WATCH")


@dataclass(frozen=True)
class SampleOrder:
    """One generated order: the DynamoDB item and the defect it carries (None: valid)."""

    item: dict[str, Any]
    defect: str | None = None

    @property
    def order_id(self) -> str:
        return self.item["order_id"]

    @property
    def expected_reason(self) -> str | None:
        return DEFECTS[self.defect] if self.defect else None


def catalog() -> list[tuple[str, Decimal]]:
    """The shop's SKUs and their USD list prices (fixed: independent of the orders' seed)."""
    rng = random.Random(2026)
    return [
        (f"{CATEGORIES[index % len(CATEGORIES)]}-{index:04d}", Decimal(rng.randint(299, 49999)) / 100)
        for index in range(CATALOG_SIZE)
    ]


def generate_orders(
    count: int,
    *,
    start: datetime,
    hours: int = 1,
    invalid_share: float = 0.1,
    anomaly_share: float = 0.01,
    seed: int = 7,
) -> list[SampleOrder]:
    """``count`` orders created in ``[start, start + hours)``, sorted by time; deterministic."""
    if count < 0 or hours < 1 or not 0 <= invalid_share <= 1 or not 0 <= anomaly_share <= 1:
        raise ValueError("count >= 0, hours >= 1 and shares within 0..1 are required")
    start = start.astimezone(UTC)
    rng = random.Random(seed)
    skus = catalog()
    span_us = hours * 3_600_000_000
    moments = sorted(start + timedelta(microseconds=rng.randrange(span_us)) for _ in range(count))
    invalid = set(rng.sample(range(count), round(count * invalid_share)))
    defects = list(DEFECTS)
    prefix = f"ord-{start:%Y%m%dT%H}-s{seed}"
    orders = []
    for index, moment in enumerate(moments):
        item = _valid_order(rng, skus, f"{prefix}-{index:07d}", moment, anomaly=rng.random() < anomaly_share)
        defect = defects[rng.randrange(len(defects))] if index in invalid else None
        if defect:
            _spoil(rng, item, defect, skus)
        orders.append(SampleOrder(item, defect))
    return orders


def _valid_order(
    rng: random.Random, skus: list[tuple[str, Decimal]], order_id: str, moment: datetime, anomaly: bool
) -> dict[str, Any]:
    currency, country, _, per_usd, decimals = rng.choices(MARKETS, weights=[m[2] for m in MARKETS])[0]
    lines = rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]
    items = []
    for sku, usd in rng.sample(skus, lines):
        qty = rng.choices((1, 2, 3, 5, 10), weights=(60, 20, 10, 7, 3))[0]
        items.append({"sku": sku, "qty": Decimal(qty), "unit_price": _price(usd * per_usd, decimals)})
    if anomaly:  # a bulk buy of the dearest SKU: valid, but far above the anomaly threshold
        sku, usd = max(skus, key=lambda entry: entry[1])
        items = [{"sku": sku, "qty": Decimal(60), "unit_price": _price(usd * per_usd, decimals)}]
    if rng.random() < 0.05:  # some clients send numbers as strings
        items[0]["unit_price"] = str(items[0]["unit_price"])
    return {
        "order_id": order_id,
        "customer_id": f"cust-{rng.randint(1, 5000):05d}",
        "created_at": _created_at_text(rng, moment, country),
        "status": rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0],
        "currency": currency,
        "shipping_country": country,
        "items": items,
        "order_hour": order_hour(moment),
        "order_time": order_time(moment),
        "order_bucket": order_bucket(order_id, moment),
    }


def _price(amount: Decimal, decimals: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-decimals))


def _created_at_text(rng: random.Random, moment: datetime, country: str) -> str:
    """The client's timestamp: mostly UTC with Z; sometimes a local offset (CET) or milliseconds."""
    style = rng.random()
    if style < 0.15 and country in CET_COUNTRIES:
        return moment.astimezone(CET).isoformat(timespec="seconds")
    if style < 0.25:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _spoil(rng: random.Random, item: dict[str, Any], defect: str, skus: list[tuple[str, Decimal]]) -> None:
    """Give a valid order exactly one defect, one the transform checks before any other problem."""
    line = item["items"][0]
    if defect == "missing_field":
        del item[rng.choice(("customer_id", "created_at", "status", "currency", "shipping_country", "items"))]
    elif defect == "wrong_type":
        choice = rng.randrange(3)
        if choice == 0:
            line["qty"] = "two"
        elif choice == 1:
            line["unit_price"] = True
        else:
            item["created_at"] = Decimal(int(datetime.fromisoformat(item["order_time"]).timestamp()))
    elif defect == "non_positive_qty":
        line["qty"] = Decimal(rng.choice((0, -1)))
    elif defect == "unknown_currency":
        item["currency"] = rng.choice(("XYZ", "BTC", "EURO"))
    elif defect == "too_many_decimals":
        line["unit_price"] = Decimal(str(line["unit_price"])) + Decimal("0.005")
    elif defect == "duplicate_items":
        item["items"].append(dict(line, qty=Decimal(1)))
    elif defect == "huge_order":
        item["items"] = [
            {"sku": sku, "qty": Decimal(1), "unit_price": Decimal("1.00")}
            for sku, _ in skus[: MAX_ITEMS + 1 + rng.randrange(20)]
        ]


def write_orders(table: Any, orders: list[SampleOrder]) -> int:
    """Write the orders with a DynamoDB batch writer (25 per request, unprocessed items retried)."""
    with table.batch_writer(overwrite_by_pkeys=["order_id"]) as batch:
        for order in orders:
            batch.put_item(Item=order.item)
    return len(orders)


def describe(orders: list[SampleOrder]) -> dict[str, Any]:
    defects = Counter(order.defect for order in orders if order.defect)
    return {"orders": len(orders), "invalid": sum(defects.values()), "defects": dict(sorted(defects.items()))}


def _table(table_name: str, aws_conn_id: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=aws_conn_id, resource_type="dynamodb").conn.Table(table_name)


def main(argv: list[str] | None = None) -> int:
    from lambdapipe_demo import settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="orders to write (default 1000)")
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="first hour, ISO 8601 with offset (default: the current UTC hour)",
    )
    parser.add_argument("--hours", type=int, default=1, help="hours the orders spread over (default 1)")
    parser.add_argument("--invalid-share", type=float, default=0.1, help="share with a defect (default 0.1)")
    parser.add_argument("--anomaly-share", type=float, default=0.01, help="share of huge valid orders")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same orders (default 7)")
    parser.add_argument("--table", default=settings.ORDERS_TABLE)
    parser.add_argument("--aws-conn-id", default=None, help="Airflow connection (default: AWS environment)")
    args = parser.parse_args(argv)
    start = args.start or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if start.tzinfo is None:
        parser.error("--start needs a UTC offset, e.g. 2026-01-15T10:00:00Z")
    try:
        orders = generate_orders(
            args.count,
            start=start,
            hours=args.hours,
            invalid_share=args.invalid_share,
            anomaly_share=args.anomaly_share,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout: keep it for the JSON
        write_orders(_table(args.table, args.aws_conn_id), orders)
    print(
        json.dumps({"table": args.table, "start": start.isoformat(), "hours": args.hours, **describe(orders)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
