"""Daily upkeep of the analytics tables: expire old snapshots, then delete orphan files.

One task per registered table (the provider's and ``[lambdapipe] table_definitions``) (tables not created yet are skipped).
Snapshots older than ``snapshot_max_age_days`` are expired, keeping at least the newest
``retain_last``; then files no kept snapshot references (those of expired snapshots, and those of
killed or conflicting writers) are deleted once older than ``orphan_min_age_hours``: a commit in
flight writes files before any snapshot references them, so young files are never touched.

**Dry run by default**: the run reports, in its logs and XCom, what it would expire and delete and
changes nothing. Trigger it with ``{"dry_run": false}`` to apply, or set
``[lambdapipe] tables_maintenance_dry_run = False`` to make the daily schedule apply it.
Expiring a snapshot ends time travel to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import Param, dag, task

from lambdapipe.tables.definitions import registered_tables


@dag(
    dag_id="table_maintenance",
    description="Expire old snapshots and delete orphan files of the analytics tables (dry run by default)",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["lambdapipe", "tables", "maintenance"],
    default_args={"owner": "lambdapipe", "retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    params={
        "dry_run": Param(
            conf.getboolean("lambdapipe", "tables_maintenance_dry_run", fallback=True),
            type="boolean",
            description="Only report what would be expired and deleted.",
        ),
        "snapshot_max_age_days": Param(7, type="integer", minimum=1),
        "retain_last": Param(10, type="integer", minimum=1, description="Snapshots always kept per table."),
        "orphan_min_age_hours": Param(72, type="integer", minimum=1, description="Younger files are kept."),
    },
    doc_md=__doc__,
)
def table_maintenance() -> None:
    @task
    def maintain(table_name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from lambdapipe.tables.maintenance import maintain_table

        params = params or {}
        return maintain_table(
            table_name,
            snapshot_max_age=dt.timedelta(days=params["snapshot_max_age_days"]),
            retain_last=params["retain_last"],
            orphan_min_age=dt.timedelta(hours=params["orphan_min_age_hours"]),
            dry_run=params["dry_run"],
        )

    for name in registered_tables():
        maintain.override(task_id=f"maintain_{name}")(name)


table_maintenance()
