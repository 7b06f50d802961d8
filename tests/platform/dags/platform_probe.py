"""A scheduled DAG for the platform tests: the scheduler creates its run, a worker commits one row.

Hourly without catchup, so the scheduler creates the latest interval's run as soon as the DAG is
unpaused. Its task records the run in the ``pipeline_runs`` table through the Iceberg catalog the
stack is configured with (SQLite by default, Postgres with the CeleryExecutor stack), so a test
sees a scheduled run go through the executor, a worker and the catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from lambdapipe.assets import table_asset

TABLE = "pipeline_runs"


@dag(
    dag_id="platform_probe",
    description="Scheduled probe for the platform tests: records its own run in pipeline_runs",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["lambdapipe", "test"],
    default_args={"owner": "lambdapipe", "retries": 1, "retry_delay": timedelta(seconds=5)},
    doc_md=__doc__,
)
def platform_probe() -> None:
    @task(outlets=[table_asset(TABLE)])
    def record_run(data_interval_start: Any = None, data_interval_end: Any = None) -> dict:
        from lambdapipe.operators.iceberg import commit_rows

        row = {
            "data_interval_start": data_interval_start,
            "data_interval_end": data_interval_end,
            "status": "success",
            "finished_at": datetime.now(UTC),
        }
        return commit_rows(TABLE, [row])

    record_run()


platform_probe()
