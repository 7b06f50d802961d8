"""The demo pipelines' analytics tables: registered with the provider by ``[lambdapipe] table_definitions``.

``dags/s3_upload_processing.py`` writes ``uploads``; ``dags/order_analytics.py`` writes ``orders``,
``order_rejects`` and ``order_lines`` per UTC hour; both write ``pipeline_runs`` last, as each run's
marker; ``dags/analytics_report.py`` rebuilds ``daily_report``.
"""

from __future__ import annotations

from lambdapipe.tables.definitions import Column, TableSpec, lineage_columns

ORDER_HOUR_KEY = ("dag_id", "interval_start", "interval_end")
# The tables whose rows order_analytics replaces per UTC hour (its outlets, committed together).
ORDER_FACT_TABLES = ("orders", "order_lines", "order_rejects")


def _order_hour(*extra: Column) -> tuple[Column, ...]:
    """The hour an order fact belongs to: with ``dag_id``, the order pipeline's run key (an hour's rows
    are replaced as a whole, whichever run rewrites them; see lambdapipe_demo/orders.py)."""
    return (
        Column("interval_start", "timestamptz", "start of the order's UTC hour (run key)"),
        Column("interval_end", "timestamptz", "end of that hour, exclusive (run key)"),
        *extra,
    )


UPLOADS = TableSpec(
    name="uploads",
    description="One row per processed S3 upload: what it was, what became of it.",
    columns=(
        Column("bucket", "string"),
        Column("key", "string"),
        Column("etag", "string"),
        Column("size", "long", "object size in bytes"),
        Column("content_type", "string"),
        Column("width", "int", "output width in pixels"),
        Column("height", "int", "output height in pixels"),
        Column("output_key", "string"),
        Column("status", "string", "resized | skipped | rejected"),
        Column("reason", "string", "why the upload was skipped or rejected"),
        Column("processed_at", "timestamptz"),
        *lineage_columns(),
    ),
    partition_by=(("processed_at", "day"),),
)

ORDERS = TableSpec(
    name="orders",
    description="Validated and priced orders (order facts); money in exact decimals.",
    columns=(
        Column("order_id", "string"),
        Column("customer_id", "string"),
        Column("created_at", "timestamptz"),
        Column("order_date", "date", "UTC date of created_at; the partition"),
        Column("status", "string"),
        Column("currency", "string", "ISO 4217 code of the order's prices"),
        Column("shipping_country", "string", "ISO 3166 alpha-2"),
        Column("item_count", "int"),
        Column("quantity_total", "int"),
        Column("order_total", "decimal(18,2)", "in the order's currency"),
        Column("order_total_usd", "decimal(18,2)"),
        Column("usd_per_unit", "decimal(18,6)", "exchange rate used"),
        Column("rates_version", "string"),
        Column("anomalies", "list<string>", "flags such as high_total"),
        *lineage_columns(),
        *_order_hour(),
    ),
    partition_by=(("order_date", "identity"),),
    run_key=ORDER_HOUR_KEY,
)

ORDER_REJECTS = TableSpec(
    name="order_rejects",
    description="Raw orders that failed validation, with the first problem found.",
    columns=(
        Column("order_id", "string", "as sent (may be missing)"),
        Column("reason", "string", "e.g. missing_field, unknown_currency"),
        Column("field", "string", "path of the offending field, e.g. items[2].qty"),
        Column("detail", "string"),
        Column("rejected_at", "timestamptz"),
        *lineage_columns(),
        *_order_hour(),
    ),
    partition_by=(("rejected_at", "day"),),
    run_key=ORDER_HOUR_KEY,
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    description="One row per pipeline run: its data interval, counts in/out/rejected and outcome.",
    columns=(
        *lineage_columns(),
        Column("data_interval_start", "timestamptz"),
        Column("data_interval_end", "timestamptz"),
        Column("count_in", "long"),
        Column("count_out", "long"),
        Column("count_rejected", "long"),
        Column("status", "string"),
        Column("finished_at", "timestamptz"),
    ),
)

ORDER_LINES = TableSpec(
    name="order_lines",
    description="One row per line of a valid order: SKU, quantity, prices; for SKU and basket analysis.",
    columns=(
        Column("order_id", "string"),
        Column("line_number", "int", "1-based position in the order"),
        Column("sku", "string"),
        Column("qty", "int"),
        Column("unit_price", "decimal(18,2)", "in the order's currency"),
        Column("line_total", "decimal(18,2)", "qty * unit_price, in the order's currency"),
        Column("line_total_usd", "decimal(18,2)", "rounded half-even; the lines add up to order_total_usd"),
        Column("currency", "string"),
        Column("shipping_country", "string"),
        Column("order_date", "date", "UTC date of the order's created_at; the partition"),
        *lineage_columns(),
        *_order_hour(),
    ),
    partition_by=(("order_date", "identity"),),
    run_key=ORDER_HOUR_KEY,
)

DAILY_REPORT = TableSpec(
    name="daily_report",
    description=(
        "Daily summary built from the facts, one section per question: revenue_by_country, top_skus, "
        "uploads, lambda_cost. Each report run rebuilds the days whose facts changed."
    ),
    columns=(
        Column("report_date", "date"),
        Column("section", "string", "revenue_by_country | top_skus | uploads | lambda_cost"),
        Column("dimension", "string", "country, SKU, upload status or pipeline (dag_id)"),
        Column("rank", "int", "top_skus: 1 = highest revenue that day"),
        Column("orders", "long"),
        Column("quantity", "long"),
        Column("revenue_usd", "decimal(18,2)"),
        Column("uploads", "long"),
        Column("upload_bytes", "long"),
        Column("invocations", "long"),
        Column("lambda_cost_usd", "double"),
        Column("built_at", "timestamptz"),
        *lineage_columns(),
    ),
    partition_by=(("report_date", "month"),),
    run_key=("report_date",),
)

TABLES: tuple[TableSpec, ...] = (UPLOADS, ORDERS, ORDER_REJECTS, PIPELINE_RUNS, ORDER_LINES, DAILY_REPORT)
