"""Recent invocations, errors, and cost and latency per DAG and per day, from ``lambda_invocations``.

Every scan is bounded where it runs, not after: at most ``MAX_DAYS`` days (the table is partitioned by
day, so older files are skipped), only the columns a figure needs, at most ``MAX_SCAN_ROWS`` rows (the
figures then say ``truncated``). Recent invocations are read newest first in growing time windows
until a page is full, and further pages follow a cursor, so a busy table costs a page, not its
history. A table that does not exist yet reads as no rows. Rows are filtered to the DAGs the user may
read before anything is returned; rows without a DAG (invocations made outside Airflow) are shown to
every viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    EqualTo,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    NotEqualTo,
    Or,
)

from lambdapipe.tables.catalog import TableNotFoundError, load_table
from lambdapipe.tables.definitions import table_spec

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

    from lambdapipe.tables.config import TablesConfig

TABLE_NAME = "lambda_invocations"
MAX_DAYS = 90
MAX_SCAN_ROWS = 250_000  # rows one scan may bring into the API server
SUCCESS = "success"
STATS_COLUMNS = (
    "dag_id",
    "status",
    "request_id",
    "init_duration_ms",
    "cost_usd",
    "billed_duration_ms",
    "duration_ms",
    "invoked_at",
)
FIRST_WINDOW = timedelta(hours=1)  # recent rows are looked for here first, then in windows twice as long
SMALLEST_WINDOW = timedelta(seconds=1)

VisibleDags = Callable[[set[str]], Iterable[str]]


class BadCursor(ValueError):
    """A page cursor this module did not hand out."""


@dataclass(frozen=True)
class Invocations:
    """Rows read for a figure; ``truncated`` when the scan stopped at its row cap."""

    rows: pa.Table
    truncated: bool


def _base_filter(dag_id: str | None, function_name: str | None, errors_only: bool) -> BooleanExpression:
    row_filter: BooleanExpression = AlwaysTrue()
    if dag_id:
        row_filter = And(row_filter, EqualTo("dag_id", dag_id))
    if function_name:
        row_filter = And(row_filter, EqualTo("function_name", function_name))
    if errors_only:
        row_filter = And(row_filter, Or(NotEqualTo("status", SUCCESS), IsNull("status")))
    return row_filter


def _since(days: int) -> datetime:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    return datetime.now(UTC) - timedelta(days=days)


def _load(config: TablesConfig | None) -> Table | None:
    """The table, or None before anything has written it."""

    try:
        return load_table(TABLE_NAME, config)
    except TableNotFoundError:
        return None


def _scan(
    table: Table | None,
    row_filter: BooleanExpression,
    visible_dag_ids: VisibleDags,
    columns: Iterable[str] | None,
    max_rows: int,
) -> Invocations:
    """At most ``max_rows`` matching rows, then only those of DAGs the user may read (or of no DAG)."""

    if table is None:
        empty = table_spec(TABLE_NAME).schema().as_arrow().empty_table()
        return Invocations(empty.select(list(columns)) if columns else empty, False)
    selected = tuple(columns) if columns else ("*",)
    data = table.scan(row_filter=row_filter, selected_fields=selected, limit=max_rows + 1).to_arrow()
    truncated = data.num_rows > max_rows
    data = data.slice(0, max_rows)
    present = {value for value in pc.unique(data["dag_id"]).to_pylist() if value is not None}
    allowed = pa.array(sorted(set(visible_dag_ids(present)) & present), pa.string())
    keep = pc.or_kleene(pc.is_null(data["dag_id"]), pc.is_in(data["dag_id"], value_set=allowed))
    return Invocations(data.filter(keep), truncated)


def read_invocations(
    days: int,
    *,
    visible_dag_ids: VisibleDags,
    dag_id: str | None = None,
    function_name: str | None = None,
    columns: Iterable[str] | None = STATS_COLUMNS,
    max_rows: int = MAX_SCAN_ROWS,
    config: TablesConfig | None = None,
) -> Invocations:
    """The rows of the last ``days`` days the user may see, optionally of one DAG or function.

    ``visible_dag_ids`` receives the DAG ids present in the rows and returns those the user may read.
    """

    since = GreaterThanOrEqual("invoked_at", _since(days).isoformat())
    row_filter = And(since, _base_filter(dag_id, function_name, False))
    return _scan(_load(config), row_filter, visible_dag_ids, columns, max_rows)


def encode_cursor(row: dict[str, Any]) -> str:
    """Where the next page starts: after this row, in (invoked_at, request_id) descending order."""
    return f"{row['invoked_at'].isoformat()}|{row['request_id'] or ''}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (invoked_at, request_id) of the last row a page showed; ``BadCursor`` for anything else."""
    at, separator, request_id = cursor.partition("|")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        when = None
    if not separator or when is None or when.tzinfo is None:
        raise BadCursor(f"cursor {cursor!r} is not one a page of invocations handed out")
    return when, request_id


def recent_page(
    days: int,
    limit: int,
    *,
    visible_dag_ids: VisibleDags,
    errors_only: bool = False,
    dag_id: str | None = None,
    function_name: str | None = None,
    cursor: str | None = None,
    max_rows: int = MAX_SCAN_ROWS,
    config: TablesConfig | None = None,
) -> dict[str, Any]:
    """``{invocations, next_cursor, truncated}``: the newest ``limit`` rows (after ``cursor``).

    Windows are scanned newest first, each twice as long as the one before, until the page is full or
    the period is covered; a window holding more than ``max_rows`` rows is scanned again at half its
    length, so a page holds the true newest rows however busy the table.
    """

    since = _since(days)
    base = _base_filter(dag_id, function_name, errors_only)
    after = decode_cursor(cursor) if cursor else None
    end: datetime | None = after[0] if after else None  # the first window is open-ended without a cursor
    table = _load(config)
    window, found, truncated, first = FIRST_WINDOW, [], False, True
    while (end is None or end > since) and sum(part.num_rows for part in found) <= limit:
        start = max(since, (end or datetime.now(UTC)) - window)
        part = _scan(table, _window(base, start, end, inclusive=first), visible_dag_ids, None, max_rows)
        if part.truncated and window > SMALLEST_WINDOW:
            window /= 2
            continue
        truncated |= part.truncated
        rows = _after_cursor(part.rows, after) if first and after else part.rows
        found.append(rows.sort_by([("invoked_at", "descending"), ("request_id", "descending")]))
        end, window, first = start, window * 2, False
    # One row past the page says whether a next page exists; only these become Python objects.
    ordered = pa.concat_tables(found).slice(0, limit + 1).to_pylist() if found else []
    page = ordered[:limit]
    return {
        "invocations": page,
        "next_cursor": encode_cursor(page[-1]) if len(ordered) > limit else None,
        "truncated": truncated,
    }


def _window(
    base: BooleanExpression, start: datetime, end: datetime | None, *, inclusive: bool
) -> BooleanExpression:
    """Rows of ``base`` invoked in [start, end); [start, end] for the first window after a cursor (rows
    at the cursor's instant may not all have been shown); from ``start`` on when there is no end."""

    lower = And(base, GreaterThanOrEqual("invoked_at", start.isoformat()))
    if end is None:
        return lower
    return And(lower, (LessThanOrEqual if inclusive else LessThan)("invoked_at", end.isoformat()))


def _after_cursor(rows: pa.Table, after: tuple[datetime, str]) -> pa.Table:
    """Leave out the rows at the cursor's instant that the previous page already showed."""

    at, request_id = after
    same_instant = pc.equal(rows["invoked_at"], pa.scalar(at, rows["invoked_at"].type))
    shown = pc.and_(same_instant, pc.greater_equal(pc.fill_null(rows["request_id"], ""), request_id))
    return rows.filter(pc.invert(shown))


def per_dag(data: pa.Table) -> list[dict[str, Any]]:
    """Invocations, errors, cold starts, cost and latency of each DAG, costliest first."""
    rows = _aggregate(data, ["dag_id"])
    return sorted(rows, key=lambda row: (-(row["cost_usd"] or 0), row["dag_id"] or ""))


def per_day(data: pa.Table) -> list[dict[str, Any]]:
    """The same figures per UTC day and DAG, oldest day first (one row per day and DAG)."""

    day = pc.floor_temporal(data["invoked_at"], unit="day").cast(pa.date32())
    rows = _aggregate(data.append_column("day", day), ["day", "dag_id"])
    for row in rows:
        row["day"] = row["day"].isoformat()
    return sorted(rows, key=lambda row: (row["day"], row["dag_id"] or ""))


def _aggregate(data: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
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
