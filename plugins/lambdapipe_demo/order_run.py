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
from lambdapipe.tables.commit import commit_rows_together
from lambdapipe_demo import order_facts as facts
from lambdapipe_demo import orders as steps
from lambdapipe_demo import settings
from lambdapipe_demo.orders import read_manifest
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
    found = steps.extract_orders(dynamodb, settings.ORDERS_TABLE, windows)
    ti = context["ti"]
    location = RunLocation.for_task(
        settings.PIPELINE_BUCKET, settings.EXTRACT_PREFIX.rstrip("/"), ti.dag_id, ti.run_id, ti.task_id, -1
    )
    staged = steps.stage_extract(s3, location.bucket, location.prefix, found)
    print(
        f"{staged.orders_in} orders in {[window.hour for window in staged.windows]} staged at {staged.items_uri}"
    )
    return staged.to_dict()


def record_orders(
    manifest_uri: str, map_summary: dict[str, Any], context: Any, aws_conn_id: str
) -> dict[str, Any]:
    """Account for every order, then replace the run's hours in every table at once; record the run."""

    s3 = AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn
    ti = context["ti"]
    expected = read_manifest(s3, manifest_uri)
    output = facts.read_transform_output(s3, map_summary)
    window_of = facts.account(expected, output)
    lineage = {"dag_id": ti.dag_id, "run_id": ti.run_id}
    rows = facts.fact_rows(output, window_of, lineage, rejected_at=datetime.now(UTC))
    hours = sorted(expected)
    summary = facts.run_summary(hours, output, map_summary)
    run_row = pipeline_run_row(
        context, summary["orders_in"], summary["orders_valid"], summary["orders_rejected"]
    )
    if hours:  # the hours actually covered (a stream run's are not its data interval)
        run_row.update(data_interval_start=hours[0].start, data_interval_end=hours[-1].end)
    run = {"dag_id": ti.dag_id, "run_id": ti.run_id}
    fact_commits = [
        (table, [(hour.run_key(ti.dag_id), rows[table].get(hour, [])) for hour in hours])
        for table in ORDER_FACT_TABLES
        if hours
    ]
    # All or nothing: every row checked first, one snapshot per table, pipeline_runs (the
    # run's marker) last, tables set back if a commit fails (lambdapipe.tables.run_set).
    commit_rows_together(
        [
            *fact_commits,
            ("pipeline_runs", [(run, [run_row])]),
        ]
    )
    return summary
