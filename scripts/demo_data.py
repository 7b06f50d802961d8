"""Put the demo's AWS resources and sample data in place on a running stack (``make run``/``make demo``).

Runs the same idempotent scripts the tests use, as subprocesses with the stack's environment:
``include/demo_infrastructure.py`` (buckets, queues, topics, tables, functions deployed through the
deploy path), then the sample generators (uploads into ``incoming/``, orders into DynamoDB); then it
unpauses the pipelines so they run by themselves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import devstack

PIPELINES = ("s3_upload_processing", "order_analytics", "analytics_report")
STEPS = (
    ("infrastructure and function deploys", ["include/demo_infrastructure.py"]),
    ("sample uploads", ["include/sample_uploads.py", "--count", "12", "--prefix", "demo"]),
    ("sample orders", ["include/sample_orders.py", "--count", "500"]),
)


class DemoDataError(RuntimeError):
    """A preparation step failed; the message names it and carries its output's tail."""


def marker(settings: devstack.Settings) -> Path:
    """Written when preparation finished, so a demo on a running stack waits instead of racing it."""
    return settings.home / "demo-data.ready"


def prepare(settings: devstack.Settings) -> None:
    marker(settings).unlink(missing_ok=True)
    env = devstack.stack_environment(settings)
    for what, argv in STEPS:
        print(f"devstack: {what}", flush=True)
        result = subprocess.run(
            [sys.executable, *argv], cwd=devstack.REPO, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
            raise DemoDataError(f"{what} failed (exit {result.returncode}):\n{tail}")
    unpause_pipelines(settings)
    marker(settings).write_text("ready\n")


def wait_until_prepared(settings: devstack.Settings, timeout: float = 900.0) -> None:
    """For a stack whose launcher (`make run`) prepares the data itself."""
    deadline = time.monotonic() + timeout
    while not marker(settings).exists():
        if devstack.running(settings) is None:
            raise DemoDataError(
                f"the stack stopped before its demo data was ready: see {settings.log_dir / 'devstack.log'}"
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
