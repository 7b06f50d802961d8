"""Distributed execution: CeleryExecutor with a Redis broker and Postgres as the metadata DB, the
Celery result backend and the Iceberg catalog, configured by docs/operations.md's command line.

The pipelines first run on one Celery worker started with the stack; then the test starts a second
worker and redeploys: the deploy DAG has more parallel tasks than a worker has slots, so the second
worker takes part. Which worker ran a task comes from the result backend (``celery_taskmeta.worker``,
joined on the task instance's Celery id).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
from pathlib import Path

import pytest

from tests.e2e.platform import pipelines
from tests.e2e.platform.stacks import Platform, devstack, free_port, processes_of, running_platform
from tests.support.doc_recipes import REPO, blocks

pytestmark = pytest.mark.timeout(1200)

WORKER_START_TIMEOUT_SECONDS = 180.0
DOCUMENTED_DATABASE = "postgresql+psycopg2://lambdapipe:lambdapipe@127.0.0.1:5432/lambdapipe"
DOCUMENTED_BROKER = "redis://127.0.0.1:6379/0"


def test_pipelines_spread_over_celery_workers_on_postgres_and_redis(
    tmp_path: Path, dags_folder: Path, postgres_database: str, redis_broker: str
) -> None:
    documented = documented_celery_settings(postgres_database, redis_broker)
    assert (documented.executor, documented.celery_workers) == ("CeleryExecutor", 2)
    settings = dataclasses.replace(
        documented,
        home=tmp_path / "airflow",
        api_port=free_port(),
        aws_port=free_port(),
        dags_folder=dags_folder,
        celery_workers=1,  # the test starts the second worker itself, once the first ran everything
        worker_concurrency=max(1, len(pipelines.function_folders()) - 1),  # fewer slots than deploy tasks
        extra_environment=pipelines.stack_environment(),
    )
    with running_platform(settings, pipelines.prepare) as platform:
        runs = [pipeline(platform) for pipeline in pipelines.PIPELINES]
        for run in runs:
            assert set(workers_by_task(platform, run).values()) == {"worker-1"}
        assert "pipeline_runs" in iceberg_tables(postgres_database)

        platform.stack.launch(devstack.celery_worker(settings, 2))
        wait_for_celery_worker(redis_broker, "worker-2")
        redeploy = pipelines.deploy_functions(platform)
        # Both, unless another DAG's hourly run happened to fill worker-1 at that moment.
        assert "worker-2" in set(workers_by_task(platform, redeploy).values())

    assert processes_of(settings.home) == []


def documented_celery_settings(database_url: str, broker_url: str) -> devstack.Settings:
    """docs/operations.md's Celery command line as devstack's own parser reads it, its database and
    broker (the ones `make test-prerequisites` creates) swapped for this test's own."""
    [recipe] = [
        block for block in blocks(REPO / "docs" / "operations.md", "bash") if "CeleryExecutor" in block
    ]
    [pg] = re.findall(r"^PG=(\S+)", recipe, re.MULTILINE)
    command = recipe.split("scripts/devstack.py", 1)[1].replace("\\\n", " ").replace("$PG", pg)
    parser = devstack.settings_parser("docs")
    parser.add_argument("action")
    args = parser.parse_args(shlex.split(command, comments=True))
    documented = devstack.settings_from(args)
    assert args.action == "up"
    assert documented.database_url == documented.tables_catalog_url == DOCUMENTED_DATABASE
    assert documented.broker_url == DOCUMENTED_BROKER
    return dataclasses.replace(
        documented, database_url=database_url, tables_catalog_url=database_url, broker_url=broker_url
    )


def workers_by_task(platform: Platform, run: dict) -> dict[str, str]:
    """Task id -> name of the Celery worker that ran it (``worker-N``), for every task of ``run``."""
    rows = _query(
        platform.settings.database_url,
        """SELECT ti.task_id, m.worker FROM task_instance ti
           JOIN celery_taskmeta m ON m.task_id = ti.external_executor_id
           WHERE ti.dag_id = %s AND ti.run_id = %s""",
        (run["dag_id"], run["dag_run_id"]),
    )
    # A task instance succeeds (Execution API) a moment before its Celery result does: the worker
    # name is recorded when the task starts, so only that is checked.
    assert {task_id for task_id, _ in rows} == set(pipelines.task_states(platform, run)), rows
    return {task_id: worker.split("@")[0] for task_id, worker in rows}


def iceberg_tables(database_url: str) -> set[str]:
    """Tables registered in the pyiceberg SQL catalog that lives in this database."""
    return {name for (name,) in _query(database_url, "SELECT table_name FROM iceberg_tables", ())}


def wait_for_celery_worker(broker_url: str, name: str) -> None:
    """Wait until worker ``name`` answers a Celery ping through the broker (it then takes tasks)."""
    from celery import Celery

    app = Celery(broker=broker_url)
    deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
    try:
        while not any(
            worker.startswith(f"{name}@") for reply in app.control.ping(timeout=1) for worker in reply
        ):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Celery worker {name} did not answer a ping in {WORKER_START_TIMEOUT_SECONDS:.0f} s"
                )
    finally:
        app.close()


def _query(database_url: str, sql: str, parameters: tuple) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(database_url.replace("postgresql+psycopg2://", "postgresql://", 1))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
    finally:
        connection.close()
