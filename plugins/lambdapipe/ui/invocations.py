"""Recent invocations, errors, and cost and latency per DAG and per day, from ``lambda_invocations``.

The table is scanned for the last ``days`` days only (it is partitioned by day, so older files are
skipped) and aggregated with pyarrow. A table that does not exist yet reads as no rows: the view then
shows empty tables, not an error. Rows are filtered to the DAGs the user may read before anything
is returned; rows without a DAG (invocations made outside Airflow) are shown to every viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from lambdapipe.tables.config import TablesConfig

TABLE_NAME = "lambda_invocations"
MAX_DAYS = 366
SUCCESS = "success"


def read_invocations(
    days: int,
    *,
    visible_dag_ids: Callable[[set[str]], Iterable[str]],
    dag_id: str | None = None,
    function_name: str | None = None,
    config: TablesConfig | None = None,
) -> pa.Table:
    """The rows of the last ``days`` days the user may see, optionally of one DAG or function.

    ``visible_dag_ids`` receives the DAG ids present in the rows and returns those the user may read.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual

    from lambdapipe.tables.catalog import TableNotFoundError, load_table
    from lambdapipe.tables.definitions import table_spec
    from lambdapipe.tables.query import read_table

    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    since = datetime.now(UTC) - timedelta(days=days)
    row_filter = GreaterThanOrEqual("invoked_at", since.isoformat())
    if dag_id:
        row_filter = And(row_filter, EqualTo("dag_id", dag_id))
    if function_name:
        row_filter = And(row_filter, EqualTo("function_name", function_name))
    try:
        data = read_table(load_table(TABLE_NAME, config), row_filter=row_filter)
    except TableNotFoundError:
        return table_spec(TABLE_NAME).schema().as_arrow().empty_table()
    present = {value for value in pc.unique(data["dag_id"]).to_pylist() if value is not None}
    allowed = pa.array(sorted(set(visible_dag_ids(present)) & present), pa.string())
    keep = pc.or_kleene(pc.is_null(data["dag_id"]), pc.is_in(data["dag_id"], value_set=allowed))
    return data.filter(keep)


def recent(data: pa.Table, limit: int, *, errors_only: bool = False) -> list[dict[str, Any]]:
    """The newest ``limit`` rows (only failed ones with ``errors_only``), newest first."""
    import pyarrow.compute as pc

    if errors_only:
        data = data.filter(pc.fill_null(pc.not_equal(data["status"], SUCCESS), True))
    return data.sort_by([("invoked_at", "descending")]).slice(0, limit).to_pylist()


def per_dag(data: pa.Table) -> list[dict[str, Any]]:
    """Invocations, errors, cold starts, cost and latency of each DAG, costliest first."""
    rows = _aggregate(data, ["dag_id"])
    return sorted(rows, key=lambda row: (-(row["cost_usd"] or 0), row["dag_id"] or ""))


def per_day(data: pa.Table) -> list[dict[str, Any]]:
    """The same figures per UTC day and DAG, oldest day first (one row per day and DAG)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    day = pc.floor_temporal(data["invoked_at"], unit="day").cast(pa.date32())
    rows = _aggregate(data.append_column("day", day), ["day", "dag_id"])
    for row in rows:
        row["day"] = row["day"].isoformat()
    return sorted(rows, key=lambda row: (row["day"], row["dag_id"] or ""))


def _aggregate(data: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    is_error = pc.fill_null(pc.not_equal(data["status"], SUCCESS), True).cast(pa.int64())
    is_cold = pc.is_valid(data["init_duration_ms"]).cast(pa.int64())
    zero_if_empty = pc.ScalarAggregateOptions(min_count=0)
    grouped = (
        data.append_column("is_error", is_error)
        .append_column("is_cold", is_cold)
        .group_by(keys)
        .aggregate(
            [
                ("request_id", "count", pc.CountOptions(mode="all")),
                ("is_error", "sum"),
                ("is_cold", "sum"),
                ("cost_usd", "sum", zero_if_empty),
                ("billed_duration_ms", "sum", zero_if_empty),
                ("duration_ms", "mean"),
                ("duration_ms", "tdigest", pc.TDigestOptions(q=0.95, skip_nulls=True)),
                ("duration_ms", "max"),
            ]
        )
    )
    return [
        {
            **{key: row[key] for key in keys},
            "invocations": row["request_id_count"],
            "errors": row["is_error_sum"],
            "cold_starts": row["is_cold_sum"],
            "cost_usd": row["cost_usd_sum"],
            "billed_ms": row["billed_duration_ms_sum"],
            "avg_ms": row["duration_ms_mean"],
            "p95_ms": (row["duration_ms_tdigest"] or [None])[0],
            "max_ms": row["duration_ms_max"],
        }
        for row in grouped.to_pylist()
    ]
