"""Order analytics: extract an hour's orders from DynamoDB, validate and price them with Lambda, record.

Runs every hour for the hour that just ended (catchup off), and within seconds of new orders: the
``orders`` table's stream is watched (``DynamoDBStreamTrigger`` as an AssetWatcher) and a run is
started for the hours those orders belong to. The hourly run is the completeness backstop: it reads
the whole hour from the table, whatever the stream delivered.

Each hour is a unit: its orders are extracted (GSI query, or a parallel scan without the index),
batched by size and fanned out to ``order_transform:live`` with LambdaMapOperator, and its rows in
``orders``, ``order_lines`` and ``order_rejects`` are replaced as a whole (run key: ``dag_id``,
``interval_start``, ``interval_end``), so a rerun, a retry or a stream run overlapping the hourly
one never duplicates an order. Every extracted order must come back as a fact or a reject, or
nothing is committed; then all the run's hours and tables are committed as one set (one snapshot per
table, ``pipeline_runs`` last, set back if a commit fails). Runs never overlap (``max_active_runs=1``): a later run always reads later.
One SNS summary per run, and an alert when the reject rate or the anomaly count passes its threshold.

``LAMBDAPIPE_ORDER_ANALYTICS_CATCHUP_FROM`` (an ISO 8601 hour with a UTC offset, set for the
dag-processor) turns catchup on from that hour: the scheduler creates the run ending at it and one
per hour since, e.g. to process the hours before a first deploy (the platform tests use it for
several scheduled runs). That first run has no task (Airflow creates a task only when the run's
logical date, its interval's start, is not before the task's start date): the first hour processed
is the one starting at it. Unset, as in production by default: no start date, catchup off.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetWatcher, Param, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from lambdapipe.assets import table_asset
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe.operators.sns import SnsNotifyOperator
from lambdapipe.triggers.dynamodb import DynamoDBStreamTrigger
from lambdapipe_demo import settings

log = logging.getLogger(__name__)
AWS_CONN_ID = "aws_default"
FACT_TABLES = ("orders", "order_lines", "order_rejects")
_catchup_from = os.environ.get("LAMBDAPIPE_ORDER_ANALYTICS_CATCHUP_FROM")
CATCHUP_FROM = datetime.fromisoformat(_catchup_from) if _catchup_from else None

new_orders = Asset(
    name="orders_stream",
    uri=f"x-dynamodb-stream://{settings.ORDERS_TABLE}",
    watchers=[
        AssetWatcher(
            name="orders_table_stream",
            trigger=DynamoDBStreamTrigger(
                table_name=settings.ORDERS_TABLE,
                attributes=["order_hour"],
                event_names=["INSERT", "MODIFY", "REMOVE"],
                initial_position="LATEST",
                poll_interval=2,
                aws_conn_id=AWS_CONN_ID,
                region_name=settings.REGION,
            ),
        )
    ],
)


@dag(
    dag_id="order_analytics",
    description="Hourly and stream-driven: DynamoDB orders -> Lambda validation -> order tables -> SNS",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC", interval=timedelta(hours=1)),
        assets=new_orders,
    ),
    start_date=CATCHUP_FROM,
    catchup=CATCHUP_FROM is not None,
    max_active_runs=1,
    tags=["lambdapipe", "dynamodb", "lambda", "sns"],
    default_args={"owner": "lambdapipe", "retries": 2, "retry_delay": timedelta(seconds=10)},
    params={
        "hours": Param(
            [],
            type="array",
            items={"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}$"},
            description="reprocess these UTC hours (e.g. 2026-01-15T10) instead of the run's interval",
        ),
        "alert_reject_rate": Param(0.15, type="number", description="alert when rejects/orders exceeds it"),
        "alert_anomalies": Param(20, type="integer", description="alert when more anomalous orders"),
    },
    doc_md=__doc__,
)
def order_analytics() -> None:
    @task(multiple_outputs=True)
    def extract_orders(**context: Any) -> dict[str, Any]:
        """Stage the orders of the hours this run owns: the ``hours`` asked for, else those the stream
        named, else the data interval's, else (a manual run without one) the hour it was triggered in."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from lambdapipe.fanout.run_store import RunLocation
        from lambdapipe_demo import orders as steps

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
        elif (
            context.get("data_interval_start")
            and context["data_interval_start"] < context["data_interval_end"]
        ):
            windows = steps.windows_between(context["data_interval_start"], context["data_interval_end"])
        else:
            # A manual run without a logical date has no data interval: the hour it was triggered in
            # (a later run of that hour replaces it whole).
            windows = [steps.Window.containing(context["dag_run"].run_after)]
        dynamodb = AwsBaseHook(client_type="dynamodb", aws_conn_id=AWS_CONN_ID).conn
        s3 = AwsBaseHook(client_type="s3", aws_conn_id=AWS_CONN_ID).conn
        found = steps.extract_orders(dynamodb, settings.ORDERS_TABLE, windows)
        ti = context["ti"]
        location = RunLocation.for_task(
            settings.PIPELINE_BUCKET, "lambdapipe/extract", ti.dag_id, ti.run_id, ti.task_id, -1
        )
        staged = steps.stage_extract(s3, location.bucket, location.prefix, found)
        print(
            f"{staged.orders_in} orders in {[window.hour for window in staged.windows]} staged at {staged.items_uri}"
        )
        return staged.to_dict()

    extracted = extract_orders()

    transform = LambdaMapOperator(
        task_id="transform_orders",
        function_name="order_transform",
        qualifier="live",
        items_s3_uri=extracted["items_uri"],
        items_s3_format="jsonl",
        max_items_per_batch=1000,
        max_bytes_per_batch=1_000_000,  # output is ~2x input: well under Lambda's 6 MB response
        batch_input_key="items",
        max_concurrency=4,
        results_bucket=settings.PIPELINE_BUCKET,
        aws_conn_id=AWS_CONN_ID,
    )

    @task(
        outlets=[
            *(table_asset(name) for name in FACT_TABLES),
            table_asset("pipeline_runs"),
        ]
    )
    def record_orders(manifest_uri: str, map_summary: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Account for every order, then replace the run's hours in every table at once; record the run."""
        from datetime import UTC, datetime

        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from lambdapipe.tables.commit import commit_rows_together
        from lambdapipe_demo import order_facts as facts
        from lambdapipe_demo.orders import read_manifest
        from lambdapipe_demo.run_records import pipeline_run_row

        s3 = AwsBaseHook(client_type="s3", aws_conn_id=AWS_CONN_ID).conn
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
            for table in FACT_TABLES
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

    summary = record_orders(extracted["manifest_uri"], transform.output)

    @task
    def alert_message(summary: dict[str, Any], **context: Any) -> dict[str, Any] | None:
        """The alert to send, or None when the run is within its thresholds."""
        from lambdapipe_demo.order_facts import alert_message

        params = context["params"]
        return alert_message(summary, params["alert_reject_rate"], params["alert_anomalies"])

    SnsNotifyOperator(
        task_id="notify_summary",
        topic_arn=settings.topic_arn(settings.NOTIFICATIONS_TOPIC),
        subject="order_analytics summary",
        message=summary,
        kind="summary",
        message_attributes={"pipeline": "order_analytics"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )
    SnsNotifyOperator(
        task_id="notify_alert",
        topic_arn=settings.topic_arn(settings.ALERTS_TOPIC),
        subject="order_analytics alert",
        message=alert_message(summary),
        kind="alert",
        message_attributes={"pipeline": "order_analytics", "severity": "warning"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )


order_analytics()
