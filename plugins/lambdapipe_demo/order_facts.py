"""From ``order_transform`` results to table rows, with an exact account of every extracted order.

The transform answers each batch with ``{"valid": [...], "rejects": [...]}``; the map stores one
result per batch in S3. Every order id the extract staged must come back exactly once, as a valid
order or a reject: anything else (a lost batch, a duplicate) fails the run before a row is committed,
so facts + rejects always add up to the source count. Rows carry their hour (``interval_start`` /
``interval_end``, the run key) and the run that wrote them (``dag_id`` / ``run_id``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lambdapipe_demo.orders import Window

SAMPLE_IDS = 5
# What order_transform returns for a valid order (and its lines) that the tables keep.
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "created_at",
    "status",
    "currency",
    "shipping_country",
    "item_count",
    "quantity_total",
    "order_total",
    "order_total_usd",
    "usd_per_unit",
    "rates_version",
    "anomalies",
)
LINE_COLUMNS = ("sku", "qty", "unit_price", "line_total", "line_total_usd")


class OrderAccountingError(RuntimeError):
    """Extracted orders and transform results do not match one to one; names what is off."""


@dataclass(frozen=True)
class TransformOutput:
    valid: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    failed_items: int


def read_transform_output(s3: Any, map_summary: dict[str, Any]) -> TransformOutput:
    """Every batch result of the map run, from the result parts written for its current input only.

    (A retried extract may have staged different orders: parts of the earlier input are ignored.)
    """
    from lambdapipe.fanout.results import item_results

    valid: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    failed = 0
    for line in item_results(s3, map_summary):
        if line.get("status") != "succeeded":
            failed += 1
            continue
        result = line.get("result")
        if isinstance(result, dict):  # on the first item of its batch only
            valid.extend(result.get("valid", []))
            rejects.extend(result.get("rejects", []))
    return TransformOutput(valid, rejects, failed)


def account(expected: dict[Window, list[str]], output: TransformOutput) -> dict[str, Window]:
    """Each order id's window, once every extracted order came back exactly once; else an error."""
    window_of = {order_id: window for window, ids in expected.items() for order_id in ids}
    returned = Counter(order["order_id"] for order in output.valid)
    returned.update(reject.get("order_id") for reject in output.rejects)
    duplicated = sorted(str(order_id) for order_id, count in returned.items() if count > 1)
    missing = sorted(set(window_of) - set(returned))
    unexpected = sorted(str(order_id) for order_id in set(returned) - set(window_of))
    extracted = sum(len(ids) for ids in expected.values())
    if duplicated or missing or unexpected or extracted != len(window_of):
        raise OrderAccountingError(
            f"{extracted} orders extracted ({len(window_of)} distinct ids), "
            f"{len(output.valid)} valid + {len(output.rejects)} rejected came back "
            f"({output.failed_items} items in failed batches): missing {len(missing)} {missing[:SAMPLE_IDS]}, "
            f"duplicated {len(duplicated)} {duplicated[:SAMPLE_IDS]}, unexpected {len(unexpected)} "
            f"{unexpected[:SAMPLE_IDS]}"
        )
    return window_of


def fact_rows(
    output: TransformOutput, window_of: dict[str, Window], lineage: dict[str, str], rejected_at: datetime
) -> dict[str, dict[Window, list[dict[str, Any]]]]:
    """Rows for ``orders``, ``order_lines`` and ``order_rejects``, grouped by window (every window
    of the run is present, possibly empty, so a commit also clears an hour that lost its orders)."""
    tables: dict[str, dict[Window, list[dict[str, Any]]]] = {
        name: {window: [] for window in set(window_of.values())}
        for name in ("orders", "order_lines", "order_rejects")
    }
    for order in output.valid:
        window = window_of[order["order_id"]]
        keys = {**lineage, "interval_start": window.start, "interval_end": window.end}
        order_date = order["created_at"][:10]
        tables["orders"][window].append(
            {
                **{name: order[name] for name in ORDER_COLUMNS},
                "order_date": order_date,
                **keys,
            }
        )
        for number, line in enumerate(order["items"], start=1):
            tables["order_lines"][window].append(
                {
                    "order_id": order["order_id"],
                    "line_number": number,
                    **{name: line[name] for name in LINE_COLUMNS},
                    "currency": order["currency"],
                    "shipping_country": order["shipping_country"],
                    "order_date": order_date,
                    **keys,
                }
            )
    for reject in output.rejects:
        window = window_of[reject["order_id"]]
        tables["order_rejects"][window].append(
            {
                **{name: reject.get(name) for name in ("order_id", "reason", "field", "detail")},
                "rejected_at": rejected_at,
                **lineage,
                "interval_start": window.start,
                "interval_end": window.end,
            }
        )
    return tables


def run_summary(
    windows: list[Window], output: TransformOutput, map_summary: dict[str, Any] | None
) -> dict[str, Any]:
    """The run in numbers, for the SNS summary and XCom (KB-sized: no order contents)."""
    orders_in = len(output.valid) + len(output.rejects)
    revenue = sum((Decimal(order["order_total_usd"]) for order in output.valid), Decimal("0.00"))
    return {
        "windows": [window.to_dict() for window in windows],
        "orders_in": orders_in,
        "orders_valid": len(output.valid),
        "orders_rejected": len(output.rejects),
        "reject_rate": round(len(output.rejects) / orders_in, 4) if orders_in else 0.0,
        "reject_reasons": dict(sorted(Counter(reject["reason"] for reject in output.rejects).items())),
        "anomalies": sum(1 for order in output.valid if order.get("anomalies")),
        "revenue_usd": str(revenue),
        "lambda_invocations": (map_summary or {}).get("invocations", 0),
        "lambda_cost_usd": (map_summary or {}).get("cost_usd", 0.0),
    }


def alert_message(summary: dict[str, Any], max_reject_rate: float, max_anomalies: int) -> dict[str, Any]:
    """The alert to send when the run crosses a threshold, else {} (SnsNotifyOperator sends nothing)."""
    reasons = []
    if summary["reject_rate"] > max_reject_rate:
        reasons.append(f"reject rate {summary['reject_rate']:.1%} above {max_reject_rate:.1%}")
    if summary["anomalies"] > max_anomalies:
        reasons.append(f"{summary['anomalies']} anomalous orders, more than {max_anomalies}")
    if not reasons:
        return {}
    return {"reason": "; ".join(reasons), **summary}
