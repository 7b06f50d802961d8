"""The pipelines every platform test runs, whatever the executor, each checked as an operator would.

A check makes its DAG run the way production does (a REST trigger, an event, the schedule), waits
for the run to end, asserts through the REST API that the run and every task succeeded, checks what
the run left behind (functions on the local AWS, rows in the tables), and returns the run document.

``prepare`` runs before the DAGs are unpaused (``stacks.running_platform``): the scheduled
``order_analytics`` runs start at the unpause and invoke ``order_transform:live`` at once, so the
deploy DAG deploys the functions first, and the orders those runs read are seeded first (the
orders stream's watcher starts at the stream's end, so it starts no runs of its own for them).
``stack_environment`` makes ``order_analytics`` catch up from ``HOURLY_RUNS`` hours before the
current one: the scheduler creates its scheduled runs by itself, one at a time.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.sample_orders import SampleOrder, generate_orders, write_orders
from include.sample_uploads import make_samples, upload_samples
from lambdapipe_demo import settings as pipeline_settings
from lambdapipe_demo.orders import Window
from tests.e2e.platform.stacks import REPO, Platform

DEPLOY_DAG = "deploy_lambda_functions"
UPLOADS_DAG = "s3_upload_processing"
ORDERS_DAG = "order_analytics"
CATCHUP_VARIABLE = "LAMBDAPIPE_ORDER_ANALYTICS_CATCHUP_FROM"  # read by dags/order_analytics.py
HOURLY_RUNS = 2
ORDERS_PER_HOUR = 40
RESIZABLE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}  # image_resize's; it rejects BMP and the bad files
RUN_TIMEOUT_SECONDS = 420.0


def stack_environment() -> tuple[tuple[str, str], ...]:
    """For ``Settings.extra_environment``: order_analytics catches up over the last HOURLY_RUNS hours."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return ((CATCHUP_VARIABLE, (hour - timedelta(hours=HOURLY_RUNS)).isoformat()),)


def prepare(platform: Platform) -> None:
    """Before the unpause: functions deployed through the deploy DAG, the scheduled hours' orders seeded."""
    platform.api.unpause(DEPLOY_DAG)
    deploy_functions(platform)
    table = platform_aws_resource(platform, "dynamodb").Table(pipeline_settings.ORDERS_TABLE)
    for window in scheduled_windows(platform):
        write_orders(table, seeded_orders(window))


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


def s3_upload_triggers_a_watcher_run(platform: Platform) -> dict:
    """Uploads to S3 start runs through the SQS watcher; each upload is recorded once, resized or rejected."""
    samples = make_samples(3, seed=11, max_side=300)  # three images and the four bad files
    uploaded = {
        upload["key"]: upload
        for upload in upload_samples(platform_aws_client(platform, "s3"), samples, prefix="platform")
    }
    runs, rows = upload_runs(platform, set(uploaded))
    assert any(run["run_type"] == "asset_triggered" for run in runs), runs
    for run in runs:
        if any(row["run_id"] == run["dag_run_id"] for row in rows):
            assert set(task_states(platform, run).values()) == {"success"}, failure_report(platform, run)
    assert sorted(row["key"] for row in rows) == sorted(uploaded), "one row per upload"
    for row in rows:
        upload = uploaded[row["key"]]
        resizable = upload["defect"] is None and upload["format"] in RESIZABLE_FORMATS
        assert (row["bucket"], row["etag"]) == (pipeline_settings.UPLOADS_BUCKET, upload["etag"])
        assert row["status"] == ("resized" if resizable else "rejected"), (row["key"], row["reason"])
    return next(run for run in runs if run["run_type"] == "asset_triggered")


def upload_runs(platform: Platform, keys: set[str]) -> tuple[list[dict], list[dict]]:
    """The ended runs of s3_upload_processing (all successful) and their ``uploads`` rows, once a
    watcher run has ended and the rows hold every key.

    The watcher takes at most 10 messages per poll, so uploads may start more than one run. Uploads at
    the top of the hour may be claimed first by the hourly reconcile run (the watcher's runs then
    find them taken): each is still recorded once, by one successful run.
    """
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        listed = platform.api.get(f"/dags/{UPLOADS_DAG}/dagRuns?order_by=run_after&limit=1000")["dag_runs"]
        runs = [run for run in listed if run["state"] in ("success", "failed")]
        rows = [row for run in runs for row in table_rows(platform, "uploads", run)]
        watched = any(run["run_type"] == "asset_triggered" for run in runs)
        if watched and keys <= {row["key"] for row in rows}:
            break
        if time.monotonic() > deadline:
            states = {run["dag_run_id"]: run["state"] for run in listed}
            raise TimeoutError(f"uploads not all recorded after {RUN_TIMEOUT_SECONDS} s: {states}")
        time.sleep(2)
    for run in runs:
        assert run["state"] == "success", failure_report(platform, run)
    return runs, rows


def hourly_orders_runs_are_scheduled(platform: Platform) -> dict:
    """The scheduler runs order_analytics for each hour; each run's rows account for its hour's orders."""
    windows = scheduled_windows(platform)
    # The run ending at the catchup start covers the hour before it: Airflow gives it no task.
    empty, *runs = finished_runs(platform, ORDERS_DAG, "scheduled", count=HOURLY_RUNS + 1)
    assert task_states(platform, empty) == {}, empty
    for run, window in zip(runs, windows, strict=True):
        interval = (
            datetime.fromisoformat(run["data_interval_start"]),
            datetime.fromisoformat(run["data_interval_end"]),
        )
        assert interval == (window.start, window.end), run
        assert set(task_states(platform, run).values()) == {"success"}, failure_report(platform, run)
        orders = seeded_orders(window)
        facts = table_rows(platform, "orders", run)
        rejects = table_rows(platform, "order_rejects", run)
        assert sorted(row["order_id"] for row in facts) == sorted(o.order_id for o in orders if not o.defect)
        assert sorted(row["order_id"] for row in rejects) == sorted(o.order_id for o in orders if o.defect)
    next_run = platform.api.get(f"/dags/{ORDERS_DAG}")["next_dagrun_run_after"]
    assert datetime.fromisoformat(next_run) > datetime.fromisoformat(runs[-1]["run_after"])
    return runs[-1]


# Every platform test runs these, in order, after ``prepare``.
PIPELINES: list[Callable[[Platform], dict]] = [
    s3_upload_triggers_a_watcher_run,
    hourly_orders_runs_are_scheduled,
]


def scheduled_windows(platform: Platform) -> list[Window]:
    """The HOURLY_RUNS hours the scheduled runs process, from the catchup start on."""
    first = datetime.fromisoformat(platform.stack.env[CATCHUP_VARIABLE])
    return [Window(first + timedelta(hours=index)) for index in range(HOURLY_RUNS)]


def seeded_orders(window: Window) -> list[SampleOrder]:
    """The orders seeded in ``window``: the same window gives the same orders (a tenth invalid)."""
    return generate_orders(ORDERS_PER_HOUR, start=window.start, seed=int(window.start.timestamp()) // 3600)


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

    return boto3.client(service, **_aws_arguments(platform))


def platform_aws_resource(platform: Platform, service: str) -> Any:
    """A boto3 resource (e.g. a DynamoDB table) on the stack's local AWS."""
    import boto3

    return boto3.resource(service, **_aws_arguments(platform))


def _aws_arguments(platform: Platform) -> dict[str, str]:
    environment = platform.stack.env
    return {
        "endpoint_url": platform.settings.aws_url,
        "region_name": environment["AWS_DEFAULT_REGION"],
        "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
    }


def failure_report(platform: Platform, run: dict) -> str:
    states = task_states(platform, run)
    logs = Path(platform.stack.env["AIRFLOW_HOME"]) / "logs"
    return f"{run['dag_id']} run {run['dag_run_id']} ended {run['state']}; tasks: {states}; logs in {logs}"


def _run_path(run: dict) -> str:
    return f"/dags/{run['dag_id']}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
