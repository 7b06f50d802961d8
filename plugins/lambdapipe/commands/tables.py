"""``lambdapipe tables list|show NAME|query "SQL"|check``: look at the analytics tables from a shell.

The catalog comes from the same settings tasks use (connection ``lambdapipe_tables``, ``[lambdapipe]``
settings, defaults; see ``lambdapipe.tables.config``). ``query`` runs SQL over the tables it names,
offline: each is scanned to Arrow and queried with DuckDB when installed, else SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lambdapipe.commands.console import add_verbose_flag, quiet_libraries
from lambdapipe.tables.config import DEFAULT_CONN_ID

MISSING_FILES_EXIT = 3  # `check`: the catalog names files the warehouse does not have

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from lambdapipe.tables.config import TablesConfig


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quiet_libraries(args.verbose)
    from lambdapipe.tables.catalog import TableNotFoundError
    from lambdapipe.tables.config import TablesConfigError, load_config
    from lambdapipe.tables.definitions import TableDefinitionError
    from lambdapipe.tables.query import QueryError

    try:
        config = load_config(args.conn_id)
        if args.command == "list":
            print(_list(config))
        elif args.command == "check":
            return _check(config)
        elif args.command == "show":
            print(_show(config, args.name, args.snapshots))
        else:
            print(_query(config, args.sql, args.engine, args.max_rows))
    except (TableNotFoundError, TablesConfigError, TableDefinitionError, QueryError) as error:
        print(f"lambdapipe tables: {error}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_verbose_flag(common)
    common.add_argument(
        "--conn-id",
        default=DEFAULT_CONN_ID,
        help="connection with the catalog settings (default: %(default)s)",
    )
    parser = argparse.ArgumentParser(prog="lambdapipe tables", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", parents=[common], help="every table: rows, files, size, last commit")
    show = commands.add_parser("show", parents=[common], help="one table: columns, partitioning, snapshots")
    show.add_argument("name")
    show.add_argument("--snapshots", type=int, default=10, help="how many recent snapshots (default: 10)")
    commands.add_parser(
        "check", parents=[common], help="every table's current metadata file is readable in its warehouse"
    )
    query = commands.add_parser("query", parents=[common], help='run SQL over the tables, e.g. "select ..."')
    query.add_argument("sql")
    query.add_argument("--engine", choices=("auto", "duckdb", "sqlite"), default="auto")
    query.add_argument("--max-rows", type=int, default=100, help="rows to print (default: 100)")
    return parser


def _list(config: TablesConfig) -> str:
    from pyiceberg.exceptions import NoSuchNamespaceError

    from lambdapipe.tables.catalog import open_catalog
    from lambdapipe.tables.definitions import registered_tables

    catalog = open_catalog(config)
    try:
        existing = {identifier[-1] for identifier in catalog.list_tables(config.namespace)}
    except NoSuchNamespaceError:
        existing = set()
    rows = []
    for name in sorted(existing | set(registered_tables())):
        if name not in existing:
            rows.append([name, None, None, None, None, "not created yet", None])
            continue
        table = catalog.load_table(config.identifier(name))
        snapshot = table.current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        rows.append(
            [
                name,
                int(summary.get("total-records", 0)),
                int(summary.get("total-data-files", 0)),
                _size(int(summary.get("total-files-size", 0))),
                len(table.snapshots()),
                _time(snapshot.timestamp_ms) if snapshot else "no commit yet",
                summary.get("airflow.run_id"),
            ]
        )
    headers = ["table", "rows", "files", "size", "snapshots", "last commit (UTC)", "last run"]
    return format_table(headers, rows)


def _check(config: TablesConfig) -> int:
    """Exit ``MISSING_FILES_EXIT``, one line per table, when the catalog names a metadata file the
    warehouse does not have: the catalog and the object store were restored or reset apart (e.g. a
    local stack started afresh). Any other failure (no connection, settings) exits 1 as usual."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    from lambdapipe.tables.catalog import CatalogNotFoundError, open_catalog

    try:
        catalog = open_catalog(config)
    except CatalogNotFoundError:
        print("lambdapipe tables check: no catalog yet (nothing committed): nothing to check")
        return 0
    try:
        identifiers = catalog.list_tables(config.namespace)
    except NoSuchNamespaceError:
        identifiers = []
    unreadable = []
    for identifier in identifiers:
        try:
            catalog.load_table(identifier)
        except FileNotFoundError as error:
            unreadable.append(f"{identifier[-1]}: {error}")
    for line in unreadable:
        print(f"lambdapipe tables check: {line}", file=sys.stderr)
    if unreadable:
        return MISSING_FILES_EXIT
    print(f"lambdapipe tables check: {len(identifiers)} table(s), every metadata file readable")
    return 0


def _show(config: TablesConfig, name: str, snapshot_count: int) -> str:
    from lambdapipe.tables.catalog import TableNotFoundError, load_table
    from lambdapipe.tables.definitions import registered_tables

    try:
        table = load_table(name, config)
    except TableNotFoundError:
        spec = registered_tables().get(name)
        if spec is None:
            raise
        columns = format_table(["column", "type", "doc"], [[c.name, c.type, c.doc] for c in spec.columns])
        return f"{name}: {spec.description}\nnot created yet (the first commit creates it)\n\n{columns}"
    return "\n\n".join([_overview(table, name), _columns(table), _snapshots(table, snapshot_count)])


def _overview(table: Table, name: str) -> str:
    from lambdapipe.tables.definitions import registered_tables

    defined = registered_tables().get(name)
    spec = table.spec()
    schema = table.schema()
    partitioning = ", ".join(f"{schema.find_column_name(f.source_id)} ({f.transform})" for f in spec.fields)
    snapshot = table.current_snapshot()
    summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
    current = (
        f"{snapshot.snapshot_id} at {_time(snapshot.timestamp_ms)} UTC: {summary.get('total-records', 0)} rows "
        f"in {summary.get('total-data-files', 0)} files ({_size(int(summary.get('total-files-size', 0)))})"
        if snapshot
        else "none (no commit yet)"
    )
    description = table.properties.get("comment") or (defined.description if defined else "")
    lines = [
        ["location", table.location()],
        ["partitioned by", partitioning or "(unpartitioned)"],
        ["run key", ", ".join(defined.run_key) if defined else "(not defined here)"],
        ["current snapshot", current],
    ]
    return f"{name}: {description}\n" + "\n".join(f"{key:<17} {value}" for key, value in lines)


def _columns(table: Table) -> str:
    rows = [[f.name, str(f.field_type), f.doc or ""] for f in table.schema().fields]
    return format_table(["column", "type", "doc"], rows)


def _snapshots(table: Table, count: int) -> str:
    rows = []
    for snapshot in sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)[:count]:
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        rows.append(
            [
                snapshot.snapshot_id,
                _time(snapshot.timestamp_ms),
                snapshot.summary.operation.value if snapshot.summary else None,
                int(summary.get("added-records", 0)),
                int(summary.get("deleted-records", 0)),
                int(summary.get("total-records", 0)),
                summary.get("airflow.run_id"),
                summary.get("airflow.task_id"),
                summary.get("airflow.try_number"),
            ]
        )
    headers = ["snapshot", "committed (UTC)", "operation", "added", "deleted", "rows", "run", "task", "try"]
    return f"recent snapshots (newest first)\n{format_table(headers, rows)}"


def _query(config: TablesConfig, sql: str, engine: str, max_rows: int) -> str:
    from lambdapipe.tables.query import query

    result = query(sql, config, engine)
    shown = result.slice(0, max_rows)
    rows = [list(row.values()) for row in shown.to_pylist()]
    footer = f"({result.num_rows} rows" + (
        f", first {max_rows} shown)" if result.num_rows > max_rows else ")"
    )
    return f"{format_table(result.column_names, rows)}\n{footer}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Aligned plain-text columns; numbers right-aligned, nulls blank."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[index]) for row in cells)]) for index, header in enumerate(headers)]
    numeric = [
        all(isinstance(row[index], int | float | Decimal) or row[index] is None for row in rows)
        and bool(rows)
        for index in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def _time(timestamp_ms: int) -> str:
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
