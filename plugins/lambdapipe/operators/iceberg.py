"""Commit task outputs to the analytics tables exactly once per run: the operator.

Classic::

    IcebergCommitOperator(task_id="commit_orders", table_name="orders", rows=transform.output["valid"])

TaskFlow: ``lambdapipe.tables.commit.commit_rows`` does the same from inside a task.

Both replace the rows of the run key, by default this DAG run's (``dag_id``, ``run_id``), in one
Iceberg transaction, and tag the snapshot with the task instance (``airflow.dag_id/run_id/task_id/
try_number``); a retry or a cleared task replaces its own rows. If several tasks of one DAG run
write the same table, give each its own run key (e.g. add ``task_id``). pyiceberg is imported
only when a task runs, so DAG files using these stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from lambdapipe.assets import table_asset
from lambdapipe.tables.commit import MODES, commit_rows
from lambdapipe.tables.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context


class IcebergCommitOperator(BaseOperator):
    """Commit rows from XCom, or Parquet staging files on S3, to a lambdapipe table.

    :param table_name: A registered table (``[lambdapipe] table_definitions``; created on first commit)
        or any existing table of the namespace. Not templated: it also names the outlet Asset.
    :param rows: A list of dicts, e.g. an upstream task's ``.output``. Templated.
    :param staging_uri: A Parquet file or prefix (``s3://bucket/staging/run-1/``), read through the
        warehouse's S3 settings. Templated. Give ``rows`` or ``staging_uri``, not both.
    :param run_key: Column -> value of the rows this commit replaces. Templated. Default: the
        table's run-key columns filled from this task instance (``dag_id``, ``run_id``).
    :param mode: ``replace_run`` (exactly once per run key) or ``append`` (rows independent of any
        run; a retried task appends again).
    :param evolve_schema: Add columns the data has and the table lacks, as optional columns.
    :param tables_conn_id: Connection holding the catalog settings (see ``lambdapipe.tables.config``).
    :return: ``{table, mode, rows, snapshot_id, attempts, run_key}``. Outlets default to the
        table's Asset, whose event carries the snapshot id.
    """

    template_fields: Sequence[str] = ("rows", "staging_uri", "run_key", "tables_conn_id")
    template_fields_renderers = {"run_key": "json"}
    ui_color = "#b4e1f0"

    def __init__(
        self,
        *,
        table_name: str,
        rows: Any = None,
        staging_uri: str | None = None,
        run_key: Mapping[str, Any] | None = None,
        mode: str = "replace_run",
        evolve_schema: bool = False,
        tables_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [table_asset(table_name)])
        super().__init__(**kwargs)
        if (rows is None) == (staging_uri is None):
            raise ValueError(f"{self.task_id}: give exactly one of rows= or staging_uri=")
        if mode not in MODES:
            raise ValueError(f"{self.task_id}: mode must be one of {MODES}, not {mode!r}")
        self.table_name = table_name
        self.rows = rows
        self.staging_uri = staging_uri
        self.run_key = run_key
        self.mode = mode
        self.evolve_schema = evolve_schema
        self.tables_conn_id = tables_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        return commit_rows(
            self.table_name,
            self.rows,
            staging_uri=self.staging_uri,
            run_key=self.run_key,
            mode=self.mode,
            evolve_schema=self.evolve_schema,
            tables_conn_id=self.tables_conn_id,
            context=context,
        )
