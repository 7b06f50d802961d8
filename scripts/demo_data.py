"""Put the demo's AWS resources and sample data in place on a running stack (``make run``/``make demo``).

Runs the same idempotent scripts the tests use, as subprocesses with the stack's environment:
``include/demo_infrastructure.py`` (buckets, queues, topics, tables, functions deployed through the
deploy path), then the sample generators (uploads into ``incoming/``, orders into DynamoDB); then it
unpauses the pipelines so they run by themselves, and starts an ``order_analytics`` run for the
sample orders' hour: the stream watcher starts at the stream's end and the hourly run comes only
after the hour, so without it the demo's orders would show up to an hour late.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import devstack

PIPELINES = ("s3_upload_processing", "order_analytics", "analytics_report")
ORDERS_DAG = "order_analytics"


def steps(orders_hour: datetime) -> tuple[tuple[str, list[str]], ...]:
    """What prepare runs, in order: a name for messages and the script's argv."""
    return (
        ("infrastructure and function deploys", ["include/demo_infrastructure.py"]),
        ("sample uploads", ["include/sample_uploads.py", "--count", "12", "--prefix", "demo"]),
        ("sample orders", ["include/sample_orders.py", "--count", "500", "--start", orders_hour.isoformat()]),
    )


class DemoDataError(RuntimeError):
    """A preparation step failed; the message names it and carries its output's tail."""


def marker(settings: devstack.Settings) -> Path:
    """Written when preparation finished, so a demo on a running stack waits instead of racing it."""
    return settings.home / "demo-data.ready"


def prepare(settings: devstack.Settings) -> None:
    marker(settings).unlink(missing_ok=True)
    started = datetime.now(UTC)
    env = devstack.stack_environment(settings)
    orders_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for what, argv in steps(orders_hour):
        print(f"devstack: {what}", flush=True)
        result = subprocess.run(
            [sys.executable, *argv], cwd=devstack.REPO, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
            raise DemoDataError(f"{what} failed (exit {result.returncode}):\n{tail}")
    unpause_pipelines(settings)
    process_orders_hour(settings, orders_hour)
    marker(settings).write_text(f"{started.isoformat()}\n")


def prepared_at(settings: devstack.Settings) -> datetime:
    """When the finished preparation began: runs its sample data started come after this."""
    return datetime.fromisoformat(marker(settings).read_text().strip())


def wait_until_prepared(settings: devstack.Settings, timeout: float = 900.0) -> None:
    """For a stack whose launcher (`make run`) prepares the data itself."""
    deadline = time.monotonic() + timeout
    while not marker(settings).exists():
        if devstack.running(settings) is None:
            raise DemoDataError(
                "the stack stopped before its demo data was ready: `make run` printed why "
                f"(a stack started in the background: {settings.log_dir / 'devstack.log'})"
            )
        if time.monotonic() > deadline:
            raise DemoDataError(
                f"the running stack did not finish preparing its demo data in {timeout:.0f} s"
            )
        time.sleep(2)


def unpause_pipelines(settings: devstack.Settings) -> None:
    """Once their resources exist, the pipelines may run by themselves (the watcher, the hourly runs)."""
    from airflow_api import AirflowApi

    api = AirflowApi(settings)
    api.wait_for_dags(set(PIPELINES), timeout=180)
    for dag_id in PIPELINES:
        api.unpause(dag_id)
    print(f"devstack: unpaused {', '.join(PIPELINES)}", flush=True)


def process_orders_hour(settings: devstack.Settings, hour: datetime) -> None:
    """Start the run that turns the sample orders' hour into rows now, not after the hour ends."""
    from airflow_api import AirflowApi, ApiError

    try:
        run_id = AirflowApi(settings).trigger(ORDERS_DAG, {"hours": [f"{hour:%Y-%m-%dT%H}"]})
    except ApiError as error:  # a convenience: the hourly run still comes, so the stack stays up
        print(
            f"devstack: could not start the {ORDERS_DAG} run for the sample orders' hour: {error}", flush=True
        )
        return
    print(f"devstack: started {ORDERS_DAG} run {run_id} for the sample orders' hour", flush=True)
