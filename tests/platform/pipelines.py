"""The pipelines every platform test runs, whatever the executor, each checked as an operator would.

A check makes its DAG run the way production does (a REST trigger, an event, the schedule), waits
for the run to end, asserts through the REST API that the run and every task succeeded, checks what
the run left behind (functions on the local AWS, rows in the tables), and returns the run document.

Hooks for the pipelines in progress (each is one function here plus its name in ``PIPELINES``):

- ``s3_upload_processing`` (S3 -> SQS -> AssetWatcher): its bucket, queue and S3 notification must
  exist before the DAG is unpaused (the watcher starts polling then): create them in
  ``stacks.running_platform`` before the unpause loop (``include/demo_infrastructure.py --no-deploy``
  with ``stack.env``). The check uploads objects (``include/sample_uploads.py`` or
  ``platform_aws_client(platform, "s3")``), waits with
  ``finished_runs(platform, "s3_upload_processing", "asset_triggered", count=1)`` and reads the
  run's rows with ``table_rows(platform, "uploads", run)``.
- ``order_analytics`` (hourly): seed the orders it reads, then
  ``finished_runs(platform, "order_analytics", "scheduled", count=N)`` (unpausing creates the latest
  interval's run; N > 1 needs ``catchup=True`` and a start_date N hours back) and
  ``table_rows(platform, "orders", run)`` for each run.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.platform.stacks import REPO, Platform

DEPLOY_DAG = "deploy_lambda_functions"
PROBE_DAG = "platform_probe"
RUN_TIMEOUT_SECONDS = 420.0


def deploy_functions(platform: Platform) -> dict:
    """The deploy DAG, triggered over REST, deploys every function folder and moves its alias."""
    api = platform.api
    run = finished_run(platform, DEPLOY_DAG, api.trigger(DEPLOY_DAG))
    folders = function_folders()
    assert task_states(platform, run) == {f"deploy_{name}": "success" for name in folders}
    lambda_client = platform_aws_client(platform, "lambda")
    for name in folders:
        deployed = xcom(platform, run, f"deploy_{name}")
        alias = lambda_client.get_alias(FunctionName=name, Name=deployed["alias"])
        assert alias["FunctionVersion"] == deployed["version"], f"{name}: alias not on the deployed version"
    return run


def scheduled_probe_commits_its_run(platform: Platform) -> dict:
    """The scheduler creates the probe's hourly run by itself; its task commits one row to a table."""
    [run] = finished_runs(platform, PROBE_DAG, "scheduled", count=1)
    assert task_states(platform, run) == {"record_run": "success"}
    rows = table_rows(platform, "pipeline_runs", run)
    assert [row["status"] for row in rows] == ["success"], rows
    return run


# Every platform test runs these, in order. Add the pipelines in progress here (see the module doc).
PIPELINES: list[Callable[[Platform], dict]] = [deploy_functions, scheduled_probe_commits_its_run]


def function_folders() -> list[str]:
    """The functions the deploy DAG deploys: one task per lambda_functions/<name>/function.toml."""
    return sorted(path.parent.name for path in (REPO / "lambda_functions").glob("*/function.toml"))


def finished_run(platform: Platform, dag_id: str, run_id: str) -> dict:
    """Wait for one run to end and require success; a failure names each task's state and the logs."""
    run = platform.api.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT_SECONDS)
    assert run["state"] == "success", failure_report(platform, run)
    return run


def finished_runs(platform: Platform, dag_id: str, run_type: str, count: int) -> list[dict]:
    """The first ``count`` runs of ``run_type`` (scheduled, asset_triggered...) once ended, all successful."""
    path = f"/dags/{dag_id}/dagRuns?run_type={run_type}&order_by=run_after&limit={count}"
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        runs = platform.api.get(path)["dag_runs"]
        if len(runs) == count and all(run["state"] in ("success", "failed") for run in runs):
            break
        if time.monotonic() > deadline:
            states = [run["state"] for run in runs]
            raise TimeoutError(
                f"{dag_id}: {count} {run_type} run(s) not ended after {RUN_TIMEOUT_SECONDS} s: {states}"
            )
        time.sleep(1)
    for run in runs:
        assert run["state"] == "success", failure_report(platform, run)
    return runs


def task_states(platform: Platform, run: dict) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in task_instances(platform, run)}


def task_instances(platform: Platform, run: dict) -> list[dict]:
    """The run's task instances as the REST API reports them."""
    return platform.api.get(f"{_run_path(run)}/taskInstances?limit=1000")["task_instances"]


def xcom(platform: Platform, run: dict, task_id: str, key: str = "return_value") -> Any:
    entry = platform.api.get(f"{_run_path(run)}/taskInstances/{task_id}/xcomEntries/{key}?deserialize=true")
    return entry["value"]


def table_rows(platform: Platform, table_name: str, run: dict) -> list[dict]:
    """The rows ``run`` committed to ``table_name``, read through the catalog the stack's tasks use."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.expressions import And, EqualTo

    from lambdapipe.tables.catalog import load_table
    from lambdapipe.tables.config import PY_IO_IMPL, TablesConfig

    settings, environment = platform.settings, platform.stack.env
    catalog_url = settings.tables_catalog_url or f"sqlite:///{settings.home / 'lambdapipe' / 'catalog.db'}"
    config = TablesConfig(catalog_uri=catalog_url, aws_conn_id=None)
    catalog = SqlCatalog(
        config.catalog_name,
        uri=config.sql_uri,
        warehouse=config.warehouse,
        **{
            "py-io-impl": PY_IO_IMPL,
            "s3.endpoint": settings.aws_url,
            "s3.region": environment["AWS_DEFAULT_REGION"],
            "s3.access-key-id": environment["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": environment["AWS_SECRET_ACCESS_KEY"],
        },
    )
    table = load_table(table_name, config, catalog)
    rows = table.scan(And(EqualTo("dag_id", run["dag_id"]), EqualTo("run_id", run["dag_run_id"])))
    return rows.to_arrow().to_pylist()


def platform_aws_client(platform: Platform, service: str) -> Any:
    """A boto3 client for the stack's local AWS, with the stack's dummy credentials."""
    import boto3

    environment = platform.stack.env
    return boto3.client(
        service,
        endpoint_url=platform.settings.aws_url,
        region_name=environment["AWS_DEFAULT_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def failure_report(platform: Platform, run: dict) -> str:
    states = task_states(platform, run)
    logs = Path(platform.stack.env["AIRFLOW_HOME"]) / "logs"
    return f"{run['dag_id']} run {run['dag_run_id']} ended {run['state']}; tasks: {states}; logs in {logs}"


def _run_path(run: dict) -> str:
    return f"/dags/{run['dag_id']}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
