"""Read the tables offline: scans to Arrow, time travel to a run's snapshot, and SQL over named tables.

DuckDB cannot load its iceberg/httpfs extensions without internet, so pyiceberg scans each table the
SQL names (through pyarrow's S3) into Arrow and the SQL engine reads the Arrow tables: DuckDB when
it is installed, otherwise SQLite from the standard library (slower, SQLite's dialect: timestamps
and dates are ISO text, decimals are REAL, lists are JSON text).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.expressions import AlwaysTrue

from lambdapipe.tables.catalog import load_table, open_catalog
from lambdapipe.tables.config import load_config
from lambdapipe.tables.retry import retry_transient_io

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from lambdapipe.tables.config import TablesConfig

ENGINES = ("auto", "duckdb", "sqlite")


class QueryError(ValueError):
    """A query that cannot run, e.g. naming no known table."""


def read_table(
    table: Table,
    *,
    snapshot_id: int | None = None,
    row_filter: BooleanExpression | str | None = None,
    columns: Iterable[str] | None = None,
) -> pa.Table:
    """The table (or the snapshot ``snapshot_id`` of it: time travel) as Arrow, filtered and projected.

    Read again after a transient S3 error (``retry_transient_io``)."""
    scan = table.scan(
        row_filter=row_filter if row_filter is not None else AlwaysTrue(),
        selected_fields=tuple(columns) if columns else ("*",),
        snapshot_id=snapshot_id,
    )
    return retry_transient_io(scan.to_arrow, what=f"read {'.'.join(table.name())}")


def snapshot_for_run(table: Table, run_id: str, dag_id: str | None = None) -> Snapshot:
    """The table as a run left it: the last snapshot its commit produced (tagged ``airflow.run_id``)."""
    matches = [
        snapshot
        for snapshot in table.snapshots()
        if _tag(snapshot, "airflow.run_id") == run_id and dag_id in (None, _tag(snapshot, "airflow.dag_id"))
    ]
    if not matches:
        runs = sorted({run for snapshot in table.snapshots() if (run := _tag(snapshot, "airflow.run_id"))})
        raise LookupError(
            f"no snapshot of {'.'.join(table.name())} was committed by run {run_id!r}"
            f"{f' of DAG {dag_id!r}' if dag_id else ''}; runs with snapshots still kept: {runs}"
        )
    return max(matches, key=lambda snapshot: snapshot.sequence_number or 0)


def referenced_tables(sql: str, names: Iterable[str]) -> list[str]:
    """The table names that appear as words in ``sql``."""
    return [name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", sql, re.IGNORECASE)]


def query(sql: str, config: TablesConfig | None = None, engine: str = "auto") -> pa.Table:
    """Run ``sql`` over the tables it names (by their short names, e.g. ``orders``)."""

    config = config or load_config()
    catalog = open_catalog(config)
    try:
        existing = [identifier[-1] for identifier in catalog.list_tables(config.namespace)]
    except NoSuchNamespaceError:
        existing = []
    names = referenced_tables(sql, existing)
    if not names:
        raise QueryError(f"the SQL names none of the tables in {config.namespace!r}: {sorted(existing)}")
    return run_sql(sql, {name: read_table(load_table(name, config, catalog)) for name in names}, engine)


def run_sql(sql: str, tables: Mapping[str, pa.Table], engine: str = "auto") -> pa.Table:
    """Run ``sql`` with each Arrow table available under its key."""
    if engine not in ENGINES:
        raise QueryError(f"engine {engine!r} is not one of {ENGINES}")
    if engine == "auto":
        engine = "duckdb" if _duckdb_installed() else "sqlite"
    return _run_duckdb(sql, tables) if engine == "duckdb" else _run_sqlite(sql, tables)


def _duckdb_installed() -> bool:
    return importlib.util.find_spec("duckdb") is not None


def _run_duckdb(sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    connection = duckdb.connect()
    try:
        for name, table in tables.items():
            connection.register(name, table)
        try:
            relation = connection.sql(sql)
        except duckdb.Error as error:
            raise QueryError(f"DuckDB: {error}") from None
        return relation.to_arrow_table() if relation is not None else pa.table({})
    finally:
        connection.close()


def _run_sqlite(sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    connection = sqlite3.connect(":memory:")
    try:
        for name, table in tables.items():
            _load_sqlite(connection, name, table)
        try:
            cursor = connection.execute(sql)
        except sqlite3.Error as error:
            raise QueryError(f"SQLite: {error}") from None
        names = [description[0] for description in cursor.description or ()]
        rows = cursor.fetchall()
    finally:
        connection.close()
    return _arrow_from_rows(names, rows)


def _load_sqlite(connection: Any, name: str, table: pa.Table) -> None:
    columns = ", ".join(f'"{field.name}" {_sqlite_type(field.type)}' for field in table.schema)
    connection.execute(f'CREATE TABLE "{name}" ({columns})')
    placeholders = ", ".join("?" * table.num_columns)
    for batch in table.to_batches(max_chunksize=50_000):
        values = [_sqlite_values(batch.column(index)) for index in range(batch.num_columns)]
        connection.executemany(f'INSERT INTO "{name}" VALUES ({placeholders})', zip(*values, strict=True))


def _sqlite_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
        return "INTEGER"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "REAL"
    return "TEXT"


def _sqlite_values(array: pa.Array) -> list[Any]:
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return array.cast(pa.string()).to_pylist()
    if pa.types.is_decimal(kind):
        return array.cast(pa.float64()).to_pylist()
    if pa.types.is_nested(kind):
        return [None if value is None else json.dumps(value, default=str) for value in array.to_pylist()]
    return array.to_pylist()


def _arrow_from_rows(names: list[str], rows: list[tuple[Any, ...]]) -> pa.Table:
    arrays = []
    for index in range(len(names)):
        values = [row[index] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # SQLite columns may mix types
            arrays.append(pa.array([None if value is None else str(value) for value in values]))
    return pa.Table.from_arrays(arrays, names=names)


def _tag(snapshot: Snapshot, key: str) -> str | None:
    return snapshot.summary.additional_properties.get(key) if snapshot.summary else None
