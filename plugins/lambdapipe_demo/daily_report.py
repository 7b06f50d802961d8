"""The daily report's steps (dags/analytics_report.py): facts in, one summary table out.

The report is derived data, keyed by day: each run rebuilds the days whose facts changed since the
report last read them (``report_days``: from the fact tables' commits, never a scan of all facts)
and replaces those days' rows in one snapshot, so it always matches the facts, also after a rerun
rewrote an hour of orders or a day lost its last upload. Every section is per day, so a day's rows
depend on that day's facts only. One SQL per section over Arrow (DuckDB), dates in UTC:

- ``revenue_by_country``: valid orders, quantity and revenue (USD) per order date and country;
- ``top_skus``: the ``top_skus`` SKUs per day by revenue (ties: SKU name), with their rank;
- ``uploads``: processed uploads and bytes per day and outcome (resized, skipped, rejected...);
- ``lambda_cost``: invocations and cost per day and pipeline (the DAG that invoked).

Revenue is gross order value of valid orders in every status (cancellations are in ``orders.status``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from lambdapipe.tables.commit import commit_rows_together
from lambdapipe_demo import report_days

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

# Fact table -> (columns read, timestamp column whose UTC date is the report day, or None)
FACTS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "orders": (("order_id", "order_date", "shipping_country", "quantity_total", "order_total_usd"), None),
    "order_lines": (("order_id", "order_date", "sku", "qty", "line_total_usd"), None),
    "uploads": (("processed_at", "status", "size"), "processed_at"),
    "lambda_invocations": (("invoked_at", "dag_id", "cost_usd"), "invoked_at"),
}

_SECTIONS = """
SELECT order_date AS report_date, 'revenue_by_country' AS section, shipping_country AS dimension,
       CAST(NULL AS INTEGER) AS rank, count(*) AS orders, sum(quantity_total) AS quantity,
       sum(order_total_usd) AS revenue_usd, CAST(NULL AS BIGINT) AS uploads,
       CAST(NULL AS BIGINT) AS upload_bytes, CAST(NULL AS BIGINT) AS invocations,
       CAST(NULL AS DOUBLE) AS lambda_cost_usd
FROM orders GROUP BY order_date, shipping_country
UNION ALL
SELECT report_date, 'top_skus', sku, CAST(rank AS INTEGER), orders, quantity, revenue_usd, NULL, NULL, NULL, NULL
FROM (
    SELECT order_date AS report_date, sku, count(DISTINCT order_id) AS orders, sum(qty) AS quantity,
           sum(line_total_usd) AS revenue_usd,
           row_number() OVER (PARTITION BY order_date ORDER BY sum(line_total_usd) DESC, sku) AS rank
    FROM order_lines GROUP BY order_date, sku
) WHERE rank <= {top_skus}
UNION ALL
SELECT day, 'uploads', status, NULL, NULL, NULL, NULL, count(*), sum(size), NULL, NULL
FROM uploads GROUP BY day, status
UNION ALL
SELECT day, 'lambda_cost', dag_id, NULL, NULL, NULL, NULL, NULL, NULL, count(*), sum(cost_usd)
FROM lambda_invocations GROUP BY day, dag_id
ORDER BY report_date, section, rank NULLS LAST, dimension
"""


def read_facts(facts: Mapping[str, Table], days: set[date] | None) -> dict[str, pa.Table]:
    """The columns the report needs from each fact table, of ``days`` only (None: every day)."""
    import pyarrow.compute as pc

    from lambdapipe.tables.query import read_table

    read = {}
    for name, (columns, day_of) in FACTS.items():
        row_filter = _on_days(day_of or "order_date", day_of is not None, days)
        table = read_table(facts[name], row_filter=row_filter, columns=columns)
        if day_of is not None:
            table = table.append_column("day", pc.cast(table.column(day_of), "date32"))
        read[name] = table
    return read


def _on_days(column: str, is_timestamp: bool, days: set[date] | None) -> BooleanExpression:
    """Rows of ``days`` (UTC) in a date or timestamp column; every row when ``days`` is None.

    Contiguous days become one range, and the ranges one balanced Or (a chain of hundreds of days
    would exhaust the recursion pyiceberg evaluates filters with)."""
    from pyiceberg.expressions import AlwaysFalse, AlwaysTrue, And, GreaterThanOrEqual, In, LessThan, Or

    if days is None:
        return AlwaysTrue()
    if not days:
        return AlwaysFalse()
    if not is_timestamp:
        return In(column, {day.isoformat() for day in days})
    ranges = [
        And(
            GreaterThanOrEqual(column, datetime.combine(first, time.min, UTC).isoformat()),
            LessThan(column, datetime.combine(last + timedelta(days=1), time.min, UTC).isoformat()),
        )
        for first, last in _contiguous(sorted(days))
    ]
    return Or(*ranges) if len(ranges) > 1 else ranges[0]


def _contiguous(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def build_report(facts: Mapping[str, pa.Table], top_skus: int = 10) -> pa.Table:
    """The report rows (without lineage) from the fact tables."""
    from lambdapipe.tables.query import run_sql

    if top_skus < 1:
        raise ValueError(f"top_skus must be at least 1, not {top_skus}")
    return run_sql(_SECTIONS.format(top_skus=int(top_skus)), facts, engine="duckdb")


def with_lineage(report: pa.Table, dag_id: str, run_id: str, built_at: Any) -> pa.Table:
    import pyarrow as pa

    rows = report.num_rows
    return (
        report.append_column("built_at", pa.array([built_at] * rows, pa.timestamp("us", tz="UTC")))
        .append_column("dag_id", pa.array([dag_id] * rows, pa.string()))
        .append_column("run_id", pa.array([run_id] * rows, pa.string()))
    )


def refresh_daily_report(dag_id: str, run_id: str, top_skus: int) -> dict[str, Any]:
    """The analytics_report task: rebuild the days whose facts changed, replace those days' rows in
    one snapshot (exactly once per run), and return the whole report's summary for the notification."""
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    facts = {name: ensure_table(name) for name in FACTS}
    report_table = ensure_table("daily_report")
    sources = report_days.current_sources(facts)
    day_columns = {name: day_of or "order_date" for name, (_, day_of) in FACTS.items()}
    days = report_days.changed_days(facts, day_columns, report_days.recorded_sources(report_table))
    report = with_lineage(build_report(read_facts(facts, days), top_skus), dag_id, run_id, datetime.now(UTC))
    if days is None:  # rebuild every day, and drop the days no fact is left for
        reported = read_table(report_table, columns=["report_date"]).column("report_date").to_pylist()
        days = set(reported) | set(report.column("report_date").to_pylist())
    rows = report.to_pylist()
    parts = [
        ({"report_date": day}, [row for row in rows if row["report_date"] == day]) for day in sorted(days)
    ]
    if parts:
        commit_rows_together(
            [("daily_report", parts)],
            snapshot_properties={report_days.SOURCES_PROPERTY: json.dumps(sources)},
        )
    print(f"Rebuilt {len(parts)} day(s) of the report: {', '.join(str(day) for day, _ in parts[:10])}")
    return report_summary(read_table(report_table.refresh()))


def report_summary(report: pa.Table) -> dict[str, Any]:
    """The report in a few numbers for the SNS message: totals, and the newest order day's leaders."""
    from decimal import Decimal

    rows = report.to_pylist()
    countries = [row for row in rows if row["section"] == "revenue_by_country"]
    costs: dict[str, float] = {}
    for row in rows:
        if row["section"] == "lambda_cost":
            costs[row["dimension"]] = costs.get(row["dimension"], 0.0) + row["lambda_cost_usd"]
    summary: dict[str, Any] = {
        "days": len({row["report_date"] for row in rows}),
        "rows": len(rows),
        "orders": sum(row["orders"] for row in countries),
        "revenue_usd": str(sum((row["revenue_usd"] for row in countries), Decimal("0.00"))),
        "uploads": sum(row["uploads"] for row in rows if row["section"] == "uploads"),
        "lambda_cost_usd_by_pipeline": {name: round(cost, 8) for name, cost in sorted(costs.items())},
    }
    if countries:
        day = max(row["report_date"] for row in countries)
        on_day = [row for row in countries if row["report_date"] == day]
        skus = [row for row in rows if row["section"] == "top_skus" and row["report_date"] == day]
        summary["latest_order_day"] = {
            "date": day.isoformat(),
            "orders": sum(row["orders"] for row in on_day),
            "revenue_usd": str(sum((row["revenue_usd"] for row in on_day), Decimal("0.00"))),
            "top_country": max(on_day, key=lambda row: row["revenue_usd"])["dimension"],
            "top_sku": min(skus, key=lambda row: row["rank"])["dimension"] if skus else None,
        }
    return summary
