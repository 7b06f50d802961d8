"""One-shot, non-interactive demo: bring the stack up, check it, bring it down (``make demo``).

Uses the running stack if ``make run`` is up (and leaves it running); otherwise starts one and stops it
at the end. Each step is a function taking the REST client; later features append their steps.
Exits non-zero, naming the failed step, if anything is wrong.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import demo_data
import devstack
from airflow_api import AirflowApi, ApiError

PARSE_TIMEOUT_SECONDS = 180.0


class DemoError(RuntimeError):
    """A demo step found the stack in a wrong state."""


def dag_files() -> set[str]:
    """DAG files Airflow will parse, relative to the DAGs folder (same discovery rules as Airflow)."""
    from airflow.utils.file import list_py_file_paths

    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    return {Path(path).relative_to(folder).as_posix() for path in list_py_file_paths(folder)}


def dags_loaded_without_import_errors(api: AirflowApi, settings: devstack.Settings) -> None:
    """Every DAG file in dags/ has been parsed by the running dag-processor, with no import error."""
    expected = dag_files()
    deadline = time.monotonic() + PARSE_TIMEOUT_SECONDS
    while True:
        errors = {
            e["filename"]: e["stack_trace"] for e in api.get("/importErrors?limit=1000")["import_errors"]
        }
        dags = api.get("/dags?limit=1000")["dags"]
        parsed = {d["relative_fileloc"] for d in dags} | set(errors)
        if expected <= parsed:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"not parsed after {PARSE_TIMEOUT_SECONDS:.0f} s: {sorted(expected - parsed)}")
        time.sleep(2)
    if errors:
        raise DemoError("DAG import errors:\n" + "\n".join(f"{f}:\n{trace}" for f, trace in errors.items()))
    print(f"demo: {len(expected)} DAG file(s) parsed, no import errors: {sorted(d['dag_id'] for d in dags)}")


PIPELINE_TIMEOUT_SECONDS = 600.0
SUMMARY_QUERIES = {
    "uploads": "SELECT status, count(*) AS uploads, sum(size) AS bytes FROM uploads GROUP BY status ORDER BY status",
    "orders": "SELECT count(*) AS orders, sum(order_total_usd) AS revenue_usd FROM orders",
    "order_rejects": "SELECT reason, count(*) AS rejects FROM order_rejects GROUP BY reason ORDER BY rejects DESC",
    "lambda_invocations": (
        "SELECT function_name, count(*) AS invocations, sum(cost_usd) AS cost_usd, "
        "avg(duration_ms) AS avg_ms FROM lambda_invocations GROUP BY function_name ORDER BY function_name"
    ),
}


def _latest_run(api: AirflowApi, dag_id: str, run_type: str | None = None) -> dict | None:
    runs = api.get(f"/dags/{dag_id}/dagRuns?order_by=-run_after&limit=20")["dag_runs"]
    runs = [run for run in runs if run_type is None or run["run_type"] == run_type]
    return runs[0] if runs else None


def _wait_for_success(
    api: AirflowApi, dag_id: str, run_type: str | None, after: str | None, since: datetime | None = None
) -> dict:
    """Wait for a run of ``dag_id`` (newer than run ``after``, due ``since`` or later) to succeed;
    fail naming its state."""
    deadline = time.monotonic() + PIPELINE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = _latest_run(api, dag_id, run_type)
        new = run is not None and run["dag_run_id"] != after
        if new and since is not None:
            new = datetime.fromisoformat(run["run_after"].replace("Z", "+00:00")) >= since
        if new and run["state"] in ("success", "failed"):
            if run["state"] != "success":
                raise DemoError(f"{dag_id} run {run['dag_run_id']} failed: see its task logs in the UI")
            print(f"demo: {dag_id} run {run['dag_run_id']} succeeded", flush=True)
            return run
        time.sleep(2)
    raise DemoError(f"no successful {dag_id} run within {PIPELINE_TIMEOUT_SECONDS:.0f} s")


def uploads_processed_by_the_watcher(api: AirflowApi, settings: devstack.Settings) -> None:
    """The sample uploads' S3 events start s3_upload_processing through the SQS AssetWatcher (on a
    restarted stack too: the run must come from this start's uploads, not an earlier one)."""
    api.unpause("s3_upload_processing")
    since = demo_data.prepared_at(settings)
    _wait_for_success(api, "s3_upload_processing", "asset_triggered", after=None, since=since)


def orders_processed(api: AirflowApi, settings: devstack.Settings) -> None:
    """order_analytics over the sample orders, then the report the table updates schedule."""
    previous_report = _latest_run(api, "analytics_report")
    for dag_id in ("order_analytics", "analytics_report"):
        api.unpause(dag_id)
    run_id = api.trigger("order_analytics")
    api.wait_for_run("order_analytics", run_id, PIPELINE_TIMEOUT_SECONDS)
    _wait_for_success(api, "order_analytics", None, after=None)
    _wait_for_success(api, "analytics_report", None, after=(previous_report or {}).get("dag_run_id"))


def table_summaries(api: AirflowApi, settings: devstack.Settings) -> None:
    """Print the tables through the tables CLI, as a user would query them."""
    import subprocess

    for name, sql in SUMMARY_QUERIES.items():
        result = subprocess.run(
            [str(devstack.BIN / "lambdapipe"), "tables", "query", sql],
            env=devstack.stack_environment(settings),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise DemoError(f"`lambdapipe tables query` on {name} failed:\n{result.stderr[-2000:]}")
        print(f"\n{name}:\n{result.stdout.rstrip()}\n", flush=True)


STEPS: list[Callable[[AirflowApi, devstack.Settings], None]] = [
    dags_loaded_without_import_errors,
    uploads_processed_by_the_watcher,
    orders_processed,
    table_summaries,
]


HEALTH_TIMEOUT_SECONDS = 60.0


def run_steps(settings: devstack.Settings) -> None:
    # Health counts heartbeats: on a busy machine one can come late, so give it a minute.
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while devstack.airflow_health(settings) is None:
        if time.monotonic() > deadline:
            raise DemoError(
                f"Airflow at {settings.api_url} is not healthy after {HEALTH_TIMEOUT_SECONDS:.0f} s"
            )
        time.sleep(1)
    api = AirflowApi(settings)
    for step in STEPS:
        print(f"demo: {step.__name__.replace('_', ' ')}", flush=True)
        step(api, settings)


def main(argv: list[str] | None = None) -> int:
    settings = devstack.settings_from(devstack.settings_parser(__doc__.splitlines()[0]).parse_args(argv))
    os.environ.update(settings.environment())  # before anything imports Airflow
    try:
        if devstack.running(settings):
            print("demo: using the stack started by `make run` (waiting for its demo data)")
            demo_data.wait_until_prepared(settings)
            run_steps(settings)
        else:
            with devstack.running_stack(settings):
                demo_data.prepare(settings)
                run_steps(settings)
    except (DemoError, ApiError, TimeoutError, demo_data.DemoDataError, devstack.StackError) as error:
        print(f"demo: FAILED: {error}", file=sys.stderr)
        return 1
    print("demo: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
