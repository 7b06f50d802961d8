"""The last run of the deploy DAG, and of each function's deploy task, from Airflow's metadata DB.

``deploy_lambda_functions`` names its tasks ``deploy_<folder>``: the view matches a function to the
task of the same name and otherwise shows only the DAG's last run.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from sqlalchemy import select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEPLOY_DAG_ID = "deploy_lambda_functions"
# Enough task instances to find the latest of each deploy task without reading the whole history.
RECENT_TASK_INSTANCES = 500


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def last_deploys(session: Session, dag_id: str = DEPLOY_DAG_ID) -> dict[str, Any]:
    """``{"dag_run": last run or None, "tasks": {task_id: its latest try}}``."""

    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
    ).first()
    rows = session.execute(
        select(
            TaskInstance.task_id,
            TaskInstance.run_id,
            TaskInstance.state,
            TaskInstance.start_date,
            TaskInstance.end_date,
        )
        .where(TaskInstance.dag_id == dag_id, TaskInstance.start_date.is_not(None))
        .order_by(TaskInstance.start_date.desc())
        .limit(RECENT_TASK_INSTANCES)
    ).all()
    tasks: dict[str, Any] = {}
    for row in rows:
        tasks.setdefault(
            row.task_id,
            {
                "dag_id": dag_id,
                "run_id": row.run_id,
                "task_id": row.task_id,
                "state": row.state,
                "start_date": _iso(row.start_date),
                "end_date": _iso(row.end_date),
            },
        )
    dag_run = (
        {
            "dag_id": dag_id,
            "run_id": run.run_id,
            "state": run.state,
            "start_date": _iso(run.start_date),
            "end_date": _iso(run.end_date),
        }
        if run
        else None
    )
    return {"dag_run": dag_run, "tasks": tasks}


def deploy_task_id(function_name: str) -> str:
    return f"deploy_{function_name}"
