"""The analytics tables, in one place: columns, partitioning and the run key each writer replaces.

Definitions are plain data so DAG files, the CLI and Assets can list tables without importing
pyiceberg; ``TableSpec.schema()`` and ``partition_spec()`` build the pyiceberg objects when a table
is created. Every column is optional (nullable): writers may send partial rows, and adding a column
later (append it to ``columns``) is a safe schema change that existing tables pick up on next open.

Column types: ``string``, ``int``, ``long``, ``double``, ``boolean``, ``date``, ``timestamptz``,
``decimal(P,S)`` and ``list<T>`` of one of those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

PRIMITIVE_TYPES = ("string", "int", "long", "double", "boolean", "date", "timestamptz")
TRANSFORMS = ("identity", "year", "month", "day", "hour")
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_LIST = re.compile(r"list<(.+)>")


class TableDefinitionError(ValueError):
    """A table definition that cannot be turned into an Iceberg table."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""

    def __post_init__(self) -> None:
        if not _is_known_type(self.type):
            raise TableDefinitionError(
                f"column {self.name!r}: unknown type {self.type!r}; use one of {PRIMITIVE_TYPES}, "
                "decimal(P,S) or list<T>"
            )


@dataclass(frozen=True)
class TableSpec:
    """One table: ``run_key`` names the columns that identify one writer's rows (see writer.commit_run)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[tuple[str, str], ...] = ()  # (column, transform)
    run_key: tuple[str, ...] = ("dag_id", "run_id")

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TableDefinitionError(f"table {self.name!r}: duplicate columns {duplicates}")
        for column, transform in self.partition_by:
            if column not in names:
                raise TableDefinitionError(
                    f"table {self.name!r}: partition column {column!r} is not a column"
                )
            if transform not in TRANSFORMS:
                raise TableDefinitionError(
                    f"table {self.name!r}: unknown partition transform {transform!r}; use one of {TRANSFORMS}"
                )
        missing_key = [column for column in self.run_key if column not in names]
        if missing_key:
            raise TableDefinitionError(f"table {self.name!r}: run key columns {missing_key} are not columns")

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def schema(self) -> Schema:
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        ids = iter(range(1, 10_000))
        fields = []
        for column in self.columns:
            field_id = next(ids)
            fields.append(
                NestedField(
                    field_id, column.name, _iceberg_type(column.type, ids), required=False, doc=column.doc
                )
            )
        return Schema(*fields)

    def partition_spec(self, schema: Schema) -> PartitionSpec:
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.transforms import (
            DayTransform,
            HourTransform,
            IdentityTransform,
            MonthTransform,
            YearTransform,
        )

        transforms = {
            "identity": IdentityTransform,
            "year": YearTransform,
            "month": MonthTransform,
            "day": DayTransform,
            "hour": HourTransform,
        }
        fields = [
            PartitionField(
                source_id=schema.find_field(column).field_id,
                field_id=1000 + position,
                transform=transforms[transform](),
                name=column if transform == "identity" else f"{column}_{transform}",
            )
            for position, (column, transform) in enumerate(self.partition_by)
        ]
        return PartitionSpec(*fields)


def _is_known_type(text: str) -> bool:
    if text in PRIMITIVE_TYPES or _DECIMAL.fullmatch(text):
        return True
    element = _LIST.fullmatch(text)
    return bool(element) and _is_known_type(element.group(1))


def _iceberg_type(text: str, ids: Any) -> Any:
    from pyiceberg import types

    primitives = {
        "string": types.StringType,
        "int": types.IntegerType,
        "long": types.LongType,
        "double": types.DoubleType,
        "boolean": types.BooleanType,
        "date": types.DateType,
        "timestamptz": types.TimestamptzType,
    }
    if text in primitives:
        return primitives[text]()
    if decimal := _DECIMAL.fullmatch(text):
        return types.DecimalType(int(decimal.group(1)), int(decimal.group(2)))
    element = _LIST.fullmatch(text)
    assert element, text  # Column.__post_init__ validated the type
    return types.ListType(next(ids), _iceberg_type(element.group(1), ids), element_required=False)


def _lineage(*extra: Column) -> tuple[Column, ...]:
    """The columns that say which Airflow run wrote a row (and make up the default run key)."""
    return (
        Column("dag_id", "string", "DAG that wrote the row"),
        Column("run_id", "string", "DAG run that wrote the row"),
        *extra,
    )


def _order_hour(*extra: Column) -> tuple[Column, ...]:
    """The hour an order fact belongs to: with ``dag_id``, the order pipeline's run key (an hour's rows
    are replaced as a whole, whichever run rewrites them; see lambdapipe/pipelines/orders.py)."""
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
        *_lineage(),
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
        *_lineage(),
        *_order_hour(),
    ),
    partition_by=(("order_date", "identity"),),
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
        *_lineage(),
        *_order_hour(),
    ),
    partition_by=(("rejected_at", "day"),),
)

LAMBDA_INVOCATIONS = TableSpec(
    name="lambda_invocations",
    description="One row per Lambda invocation made by a task: outcome, duration, memory, cost.",
    columns=(
        Column("function_name", "string"),
        Column("qualifier", "string"),
        Column("executed_version", "string"),
        Column("request_id", "string"),
        Column("status", "string", "success | function_error | throttled | timeout | error"),
        Column("error_type", "string"),
        Column("duration_ms", "double"),
        Column("billed_duration_ms", "double"),
        Column("init_duration_ms", "double", "null on a warm start"),
        Column("memory_size_mb", "int"),
        Column("max_memory_used_mb", "int"),
        Column("cost_usd", "double"),
        *_lineage(
            Column("task_id", "string"),
            Column("map_index", "int", "null when the task is not mapped"),
            Column("try_number", "int"),
        ),
        Column("invoked_at", "timestamptz"),
    ),
    partition_by=(("invoked_at", "day"),),
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    description="One row per pipeline run: its data interval, counts in/out/rejected and outcome.",
    columns=(
        *_lineage(),
        Column("data_interval_start", "timestamptz"),
        Column("data_interval_end", "timestamptz"),
        Column("count_in", "long"),
        Column("count_out", "long"),
        Column("count_rejected", "long"),
        Column("status", "string"),
        Column("finished_at", "timestamptz"),
    ),
)

# --- Order analytics (dags/order_analytics.py, dags/analytics_report.py) ---------------------------

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
        *_lineage(),
        *_order_hour(),
    ),
    partition_by=(("order_date", "identity"),),
    run_key=("dag_id", "interval_start", "interval_end"),
)

DAILY_REPORT = TableSpec(
    name="daily_report",
    description=(
        "Daily summary built from the facts, one section per question: revenue_by_country, top_skus, "
        "uploads, lambda_cost. Rebuilt whole by each report run."
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
        *_lineage(),
    ),
    partition_by=(("report_date", "month"),),
    run_key=("dag_id",),
)

# ----------------------------------------------------------------------------------------------------

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        UPLOADS,
        ORDERS,
        ORDER_REJECTS,
        LAMBDA_INVOCATIONS,
        PIPELINE_RUNS,
        ORDER_LINES,
        DAILY_REPORT,
    )
}


def table_spec(name: str) -> TableSpec:
    """The definition of ``name``; a clear error lists the defined tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise TableDefinitionError(f"no table named {name!r}; defined tables: {sorted(TABLES)}") from None
