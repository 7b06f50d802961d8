"""The task bodies of ``dags/order_analytics.py``: each task is one call into this module.

Imported only when a task runs (the DAG file imports it inside its tasks), so it may import
Airflow hooks and the tables at module level.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from lambdapipe.fanout.run_store import RunLocation
from lambdapipe.tables.commit import RunSetWriter
from lambdapipe_demo import order_facts as facts
from lambdapipe_demo import orders as steps
from lambdapipe_demo import settings
from lambdapipe_demo.order_staging import read_manifest, stage_orders
from lambdapipe_demo.run_records import pipeline_run_row
from lambdapipe_demo.tables import ORDER_FACT_TABLES

log = logging.getLogger(__name__)


def extract_orders(context: Any, aws_conn_id: str) -> dict[str, Any]:
    """Stage the orders of the hours this run owns: the ``hours`` asked for, else those the stream
    named, else the data interval's, else (a manual run without one) the hour it was triggered in."""
    asset_events = [event for events in context["triggering_asset_events"].values() for event in events]
    if context["params"]["hours"]:
        windows = sorted({steps.Window.from_hour(hour) for hour in context["params"]["hours"]})
    elif asset_events:
        windows, unstamped = steps.windows_from_asset_events(asset_events)
        print(f"{len(asset_events)} stream event(s) name {len(windows)} hour(s)")
        if unstamped:  # no hour to rebuild and no index to find them by: say so, by key
            log.warning(
                "%d order(s) stored without order_hour/order_time/order_bucket are not extracted by "
                "any run; the order service must stamp them: %s",
                len(unstamped),
                unstamped[:20],
            )
    elif context.get("data_interval_start") and context["data_interval_start"] < context["data_interval_end"]:
        windows = steps.windows_between(context["data_interval_start"], context["data_interval_end"])
    else:
        # A manual run without a logical date has no data interval: the hour it was triggered in
        # (a later run of that hour replaces it whole).
        windows = [steps.Window.containing(context["dag_run"].run_after)]
    dynamodb = AwsBaseHook(client_type="dynamodb", aws_conn_id=aws_conn_id).conn
    s3 = AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn
    ti = context["ti"]
    location = RunLocation.for_task(
        settings.PIPELINE_BUCKET, settings.EXTRACT_PREFIX.rstrip("/"), ti.dag_id, ti.run_id, ti.task_id, -1
    )
    staged = stage_orders(dynamodb, s3, settings.ORDERS_TABLE, windows, location.bucket, location.prefix)
    print(
        f"{staged.orders_in} orders in {[window.hour for window in staged.windows]} staged at {staged.items_uri}"
    )
    return staged.to_dict()


def record_orders(
    manifest_uri: str, map_summary: dict[str, Any], context: Any, aws_conn_id: str
) -> dict[str, Any]:
    """Account for every order, then replace the run's hours in every table at once; record the run.

    Each part's rows go to the tables' data files as they are read (``RunSetWriter``), so the task's
    memory holds one part, not the hour; nothing is committed until every part added up.
    """

    s3 = AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn
    ti = context["ti"]
    staged = read_manifest(s3, manifest_uri)
    hours = sorted(staged)
    run = {"dag_id": ti.dag_id, "run_id": ti.run_id}
    # All or nothing: every row checked as it comes, one snapshot per table, pipeline_runs (the
    # run's marker) last, tables set back if a commit fails (lambdapipe.tables.run_set).
    writer = RunSetWriter(
        [
            *((table, [hour.run_key(ti.dag_id) for hour in hours]) for table in ORDER_FACT_TABLES if hours),
            ("pipeline_runs", [run]),
        ],
        context=context,
    )
    bucket = manifest_uri.removeprefix("s3://").partition("/")[0]
    answers = facts.PartAnswers.from_map(s3, map_summary)
    tally = facts.read_facts(
        s3,
        bucket,
        staged,
        answers,
        run,
        rejected_at=datetime.now(UTC),
        add_rows=lambda table, hour, rows: writer.add(table, hour.run_key(ti.dag_id), rows),
    )
    summary = facts.run_summary(hours, tally, map_summary)
    run_row = pipeline_run_row(
        context, summary["orders_in"], summary["orders_valid"], summary["orders_rejected"]
    )
    if hours:  # the hours actually covered (a stream run's are not its data interval)
        run_row.update(data_interval_start=hours[0].start, data_interval_end=hours[-1].end)
    writer.add("pipeline_runs", run, [run_row])
    writer.commit()
    return summary
