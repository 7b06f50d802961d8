"""The exactly-once write path: each commit replaces its run key's rows in one atomic snapshot.

``commit_run(table, data, {"dag_id": ..., "run_id": ...})`` deletes the rows matching the run key
and appends ``data`` in ONE Iceberg transaction: readers see the old rows or the new ones, never
neither and never both. A retried or re-run task therefore replaces its own rows instead of
duplicating them, a writer killed mid-commit leaves the previous snapshot as it was (its files are
unreferenced orphans for maintenance), and a commit that conflicts with a concurrent one is planned
again on fresh metadata (retry.py) rather than lost. pyiceberg's ``upsert`` is deliberately not
used: it joins row by row and took over 100 s for 100k rows here.

``append_rows`` only appends (no replace): for writers whose rows are independent of any run.
Snapshots are tagged with ``airflow.*`` properties so time travel can find a run's snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, And, EqualTo, IsNull, Or

from lambdapipe.tables.conform import ConformError, cast_column, conform_table
from lambdapipe.tables.retry import DEFAULT_MAX_ATTEMPTS, retry_on_conflict

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

RUN_KEY_PROPERTY = "lambdapipe.run_key"
COMMIT_ID_PROPERTY = "lambdapipe.commit_id"
# pyiceberg warns when the overwrite's delete matches nothing: the normal case for a first commit.
NOTHING_TO_DELETE = "Delete operation did not match any records"


@dataclass(frozen=True)
class CommitResult:
    """What a commit did; ``attempts`` > 1 means it was retried after a concurrent commit."""

    table: str
    mode: str
    rows: int
    snapshot_id: int | None
    attempts: int
    run_key: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def airflow_snapshot_properties(
    dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int | None = None
) -> dict[str, str]:
    """The snapshot summary tags naming the task instance that committed."""
    properties = {
        "airflow.dag_id": dag_id,
        "airflow.run_id": run_id,
        "airflow.task_id": task_id,
        "airflow.try_number": str(try_number),
    }
    if map_index is not None and map_index >= 0:
        properties["airflow.map_index"] = str(map_index)
    return properties


def commit_run(
    table: Table,
    data: pa.Table,
    run_key: Mapping[str, Any],
    snapshot_properties: Mapping[str, str] | None = None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> CommitResult:
    """Replace the rows of ``run_key`` (column -> value, None meaning null) with ``data``, atomically.

    Rows missing a run-key column get the key's value; rows carrying another value are refused
    (they would escape the next replace and be duplicated). An empty ``data`` removes the run's rows.
    """
    return replace_runs(table, [(run_key, data)], snapshot_properties, max_attempts=max_attempts)


def replace_runs(
    table: Table,
    parts: Sequence[tuple[Mapping[str, Any], pa.Table]],
    snapshot_properties: Mapping[str, str] | None = None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> CommitResult:
    """Replace the rows of several run keys, each with its own data, in ONE snapshot (readers see all
    of them replaced or none). Each part is checked as ``commit_run`` checks, before anything is written."""

    if not parts:
        raise ValueError("at least one (run_key, data) part is needed")
    name = ".".join(table.name())
    schema = table.schema().as_arrow()
    keys = [check_run_key(table, run_key) for run_key, _ in parts]
    data = pa.concat_tables(
        [
            apply_run_key(conform_table(rows, schema, table_name=name), key, name)
            for key, (_, rows) in zip(keys, parts, strict=True)
        ]
    )
    # Or of many terms is a balanced tree: a chain a thousand deep (a report's days) would exhaust
    # the recursion pyiceberg evaluates filters with.
    filters = [run_key_filter(key) for key in keys]
    row_filter: BooleanExpression = Or(*filters) if len(filters) > 1 else filters[0]
    properties = commit_properties(snapshot_properties, keys[0] if len(keys) == 1 else keys)

    def replace(current: Table) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NOTHING_TO_DELETE)
            with current.transaction() as transaction:
                transaction.overwrite(data, overwrite_filter=row_filter, snapshot_properties=properties)

    what = f"commit {keys[0] if len(keys) == 1 else f'{len(keys)} run keys'} to {name}"
    _, attempts = retry_on_conflict(table, replace, what=what, max_attempts=max_attempts)
    result = CommitResult(
        name,
        "replace_run",
        data.num_rows,
        table.metadata.current_snapshot_id,
        attempts,
        jsonable_key(keys[0]) if len(keys) == 1 else {"run_keys": [jsonable_key(key) for key in keys]},
    )
    log.info("Committed %d rows for %s to %s (snapshot %s)", data.num_rows, what, name, result.snapshot_id)
    return result


def append_rows(
    table: Table,
    data: pa.Table,
    snapshot_properties: Mapping[str, str] | None = None,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> CommitResult:
    """Append ``data`` in one snapshot. Not idempotent: a retried task appends again."""
    name = ".".join(table.name())
    data = conform_table(data, table.schema().as_arrow(), table_name=name)
    properties = commit_properties(snapshot_properties, {})

    def append(current: Table) -> None:
        with current.transaction() as transaction:
            transaction.append(data, snapshot_properties=properties)

    if data.num_rows == 0:
        return CommitResult(name, "append", 0, table.metadata.current_snapshot_id, 0, {})
    _, attempts = retry_on_conflict(table, append, what=f"append to {name}", max_attempts=max_attempts)
    return CommitResult(name, "append", data.num_rows, table.metadata.current_snapshot_id, attempts, {})


def run_key_filter(run_key: Mapping[str, Any]) -> BooleanExpression:
    """The row filter selecting a run key's rows: column = value for each, IS NULL for None."""

    expression: BooleanExpression = AlwaysTrue()
    for column, value in run_key.items():
        term = IsNull(column) if value is None else EqualTo(column, _literal(value))
        expression = And(expression, term)
    return expression


def check_run_key(table: Table, run_key: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(run_key, Mapping) or not run_key:
        raise ValueError(f"run_key must be a non-empty dict of column -> value, got {run_key!r}")
    columns = {field.name for field in table.schema().fields}
    unknown = sorted(set(run_key) - columns)
    if unknown:
        raise ValueError(f"run key columns {unknown} are not columns of {'.'.join(table.name())}")
    for column, value in run_key.items():
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            raise ValueError(f"run key {column}={value!r} needs a time zone (naive datetimes are ambiguous)")
    return dict(run_key)


def apply_run_key(data: pa.Table, run_key: dict[str, Any], table_name: str) -> pa.Table:
    """Fill run-key columns that are entirely null; refuse rows that belong to another key."""

    for column, value in run_key.items():
        index = data.schema.get_field_index(column)
        field = data.schema.field(index)
        values = data.column(index)
        if value is None:
            if values.null_count != len(values):
                raise ConformError(
                    f"table {table_name!r}: {len(values) - values.null_count} rows have a {column} "
                    "although the run key says it is null"
                )
            continue
        typed = cast_column(pa.array([_arrow_value(value)]), field, table_name)[0]
        if values.null_count == len(values):
            data = data.set_column(index, field, pa.repeat(typed, len(values)))
            continue
        matches = pc.fill_null(pc.equal(values, typed), False)
        wrong = len(values) - pc.sum(matches).as_py()
        if wrong:
            example = pc.filter(values, pc.invert(matches))[0].as_py()
            raise ConformError(
                f"table {table_name!r}: {wrong} of {len(values)} rows have {column}={example!r}, not the "
                f"run key's {value!r}; a commit may only hold rows of its own run key"
            )
    return data


def _literal(value: Any) -> Any:
    """A value pyiceberg's expressions accept; it converts ISO strings to the column's date/time type."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _arrow_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def commit_properties(
    extra: Mapping[str, str] | None, run_key: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """Snapshot properties: the caller's, a commit id, and the run key (or keys) replaced."""
    properties = {str(key): str(value) for key, value in (extra or {}).items()}
    properties[COMMIT_ID_PROPERTY] = uuid.uuid4().hex
    if run_key:
        shown = (
            jsonable_key(run_key) if isinstance(run_key, Mapping) else [jsonable_key(key) for key in run_key]
        )
        properties[RUN_KEY_PROPERTY] = json.dumps(shown, sort_keys=True)
    return properties


def jsonable_key(run_key: Mapping[str, Any]) -> dict[str, Any]:
    return {
        column: value
        if value is None or isinstance(value, bool | int | float | str)
        else str(_literal(value))
        for column, value in run_key.items()
    }
