"""Order rows shaped like the order_transform function's output, for table tests and writer processes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

DAG_ID = "orders_pipeline"
DAY = dt.date(2026, 1, 15)


def order_rows(
    run_id: str, count: int, *, day: dt.date = DAY, tag: str = "", dag_id: str = DAG_ID
) -> list[dict[str, Any]]:
    """``count`` orders of one run; ``tag`` goes into order ids so two payloads for one run differ."""
    created = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [
        {
            "order_id": f"{run_id}-{tag}{index}",
            "customer_id": f"c{index % 7}",
            "created_at": created + dt.timedelta(seconds=index),
            "order_date": day,
            "status": "paid",
            "currency": "EUR",
            "shipping_country": "DE",
            "item_count": 1 + index % 3,
            "quantity_total": 2,
            "order_total": Decimal("10.00") + index,
            "order_total_usd": Decimal("10.80") + index,
            "usd_per_unit": Decimal("1.08"),
            "rates_version": "2026-01-static",
            "anomalies": [],
            "dag_id": dag_id,
            "run_id": run_id,
        }
        for index in range(count)
    ]


def order_table(run_id: str, count: int, **kwargs: Any) -> pa.Table:
    return pa.Table.from_pylist(order_rows(run_id, count, **kwargs))


def run_key(run_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
    return {"dag_id": dag_id, "run_id": run_id}


def order_ids(table: pa.Table) -> list[str]:
    return sorted(table.column("order_id").to_pylist())
