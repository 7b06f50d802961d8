"""The exactly-once commit service: task outputs into the analytics tables, once per run key.

From inside a task (declare the Asset yourself so downstream DAGs can schedule on the table)::

    @task(outlets=[table_asset("orders")])
    def load(orders: list[dict]) -> dict:
        return commit_rows("orders", orders)

``IcebergCommitOperator`` is the classic form of ``commit_rows``. A commit replaces the rows of its
run key (by default the table's ``TableSpec.run_key`` filled from the task instance) in one Iceberg
transaction and tags the snapshot with the task instance, so a retry or a cleared task replaces its
own rows. pyiceberg is imported only when a task commits, so DAG files stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import get_current_context

from lambdapipe.assets import table_asset
from lambdapipe.tables.config import DEFAULT_CONN_ID, load_config
from lambdapipe.tables.definitions import registered_tables

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

MODES = ("replace_run", "append")
# Run-key columns filled from the task instance.
_IDENTITY_COLUMNS = ("dag_id", "run_id", "task_id", "map_index")


def commit_rows(
    table_name: str,
    data: Sequence[Mapping[str, Any]] | pa.Table | None,
    *,
    staging_uri: str | None = None,
    run_key: Mapping[str, Any] | None = None,
    mode: str = "replace_run",
    evolve_schema: bool = False,
    tables_conn_id: str = DEFAULT_CONN_ID,
    context: Context | None = None,
) -> dict[str, Any]:
    """Commit ``data`` (rows or an Arrow table), or the Parquet at ``staging_uri``, from inside a task.

    Same arguments and result as ``IcebergCommitOperator``; ``context`` defaults to the running task's.
    """
    import pyarrow as pa

    from lambdapipe.tables.catalog import ensure_table, load_table
    from lambdapipe.tables.conform import read_staging, rows_to_arrow
    from lambdapipe.tables.evolution import add_missing_columns
    from lambdapipe.tables.writer import airflow_snapshot_properties, append_rows, commit_run

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if run_key is not None:
        _check_declared_columns_included(table_name, run_key)
    if context is None:
        context = get_current_context()
    ti = context["ti"]
    config = load_config(tables_conn_id)
    table = (
        ensure_table(table_name, config)
        if table_name in registered_tables()
        else load_table(table_name, config)
    )
    if staging_uri is not None:
        arrow = read_staging(table.io, staging_uri)
    elif data is None:  # e.g. an upstream task that returned nothing: never read as "no rows"
        raise ValueError(f"no data to commit to {table_name!r}: pass [] to commit a run without rows")
    else:
        arrow = data if isinstance(data, pa.Table) else rows_to_arrow(data)
    if evolve_schema:
        add_missing_columns(table, arrow.schema)
    properties = airflow_snapshot_properties(ti.dag_id, ti.run_id, ti.task_id, ti.try_number, ti.map_index)
    if mode == "append":
        result = append_rows(table, arrow, properties)
    else:
        key = run_key if run_key is not None else _default_run_key(table_name, ti)
        result = commit_run(table, arrow, key, properties)
    _record_asset_event(context, table_name, result.to_dict())
    return result.to_dict()


def commit_rows_together(
    commits: Sequence[tuple[str, Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]] | pa.Table]]]],
    *,
    snapshot_properties: Mapping[str, str] | None = None,
    tables_conn_id: str = DEFAULT_CONN_ID,
    context: Context | None = None,
) -> list[dict[str, Any]]:
    """Commit several tables' rows as one run: ``[(table_name, [(run_key, rows), ...]), ...]``.

    ``rows`` is a list of dicts or an Arrow table. Every row is checked before anything is committed,
    each table gets one snapshot for all its run keys, in the order given (put the run's marker table
    last), and a failure sets the tables already committed back (see ``lambdapipe.tables.run_set``).
    ``snapshot_properties`` go into each snapshot's summary beside the task instance's. Returns one
    result per table. For a run too big to hold at once, add its rows piece by piece to a
    :class:`RunSetWriter` instead.
    """
    writer = RunSetWriter(
        [(name, [key for key, _ in parts]) for name, parts in commits],
        snapshot_properties=snapshot_properties,
        tables_conn_id=tables_conn_id,
        context=context,
    )
    for name, parts in commits:
        for key, rows in parts:
            writer.add(name, key, rows)
    return writer.commit()


class RunSetWriter:
    """``commit_rows_together`` with the rows added piece by piece: memory holds a piece, not the run.

    ::

        writer = RunSetWriter([("orders", hour_keys), ("pipeline_runs", [run_key])])
        for piece in pieces:
            writer.add("orders", piece.hour_key, piece.rows)  # checked now, written to data files
        writer.add("pipeline_runs", run_key, [run_row])
        writer.commit()  # one snapshot per table, in the order given; set back on failure

    A refused row raises from ``add``, before anything is committed.
    """

    def __init__(
        self,
        keys: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        tables_conn_id: str = DEFAULT_CONN_ID,
        context: Context | None = None,
    ) -> None:
        from lambdapipe.tables.catalog import ensure_table
        from lambdapipe.tables.run_files import RunFiles
        from lambdapipe.tables.writer import airflow_snapshot_properties

        self._context = context if context is not None else get_current_context()
        ti = self._context["ti"]
        config = load_config(tables_conn_id)
        for name, table_keys in keys:
            for key in table_keys:
                _check_declared_columns_included(name, key)
        self._files = {name: RunFiles(ensure_table(name, config), table_keys) for name, table_keys in keys}
        self._properties = {
            **(snapshot_properties or {}),
            **airflow_snapshot_properties(ti.dag_id, ti.run_id, ti.task_id, ti.try_number, ti.map_index),
        }

    def add(
        self, table_name: str, run_key: Mapping[str, Any], rows: Sequence[Mapping[str, Any]] | pa.Table
    ) -> None:
        import pyarrow as pa

        from lambdapipe.tables.conform import rows_to_arrow

        if table_name not in self._files:
            raise ValueError(f"{table_name!r} is not one of this run set's tables {sorted(self._files)}")
        self._files[table_name].add(run_key, rows if isinstance(rows, pa.Table) else rows_to_arrow(rows))

    def commit(self) -> list[dict[str, Any]]:
        from lambdapipe.tables.run_set import commit_files_together

        results = [
            result.to_dict() for result in commit_files_together(list(self._files.values()), self._properties)
        ]
        for name, result in zip(self._files, results, strict=True):
            _record_asset_event(self._context, name, result)
        return results


def _check_declared_columns_included(table_name: str, run_key: Mapping[str, Any]) -> None:
    """An explicit key may be finer than the table's ``TableSpec.run_key`` (a task's, a try's), never
    coarser: without a declared column it would replace rows that other writers own."""

    spec = registered_tables().get(table_name)
    missing = [column for column in spec.run_key if column not in run_key] if spec else []
    if missing:
        raise ValueError(
            f"table {table_name!r}: run_key {sorted(run_key)} lacks {missing}; its TableSpec.run_key "
            f"is {list(spec.run_key)}"
        )


def _default_run_key(table_name: str, ti: Any) -> dict[str, Any]:
    spec = registered_tables().get(table_name)
    columns = spec.run_key if spec else ("dag_id", "run_id")
    unknown = [column for column in columns if column not in _IDENTITY_COLUMNS]
    if unknown:
        raise ValueError(f"table {table_name!r}: run key columns {unknown} need an explicit run_key=")
    identity = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": None if ti.map_index in (None, -1) else ti.map_index,
    }
    return {column: identity[column] for column in columns}


def _record_asset_event(context: Context, table_name: str, result: dict[str, Any]) -> None:
    """Put the snapshot id on the table Asset's event, when the task declares that Asset."""
    asset = table_asset(table_name)
    if asset in context["task"].outlets:
        context["outlet_events"][asset].extra = {
            "snapshot_id": result["snapshot_id"],
            "rows": result["rows"],
            "mode": result["mode"],
        }
