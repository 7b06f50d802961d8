"""Order analytics: extract an hour's orders from DynamoDB, validate and price them with Lambda, record.

Runs every hour for the hour that just ended (catchup off), and within seconds of new orders: the
``orders`` table's stream is watched (``DynamoDBStreamTrigger`` as an AssetWatcher) and a run is
started for the hours those orders belong to. The hourly run is the completeness backstop: it reads
the whole hour from the table, whatever the stream delivered.

Each hour is a unit: its orders are extracted (GSI query, or a parallel scan without the index) page
by page into S3 parts of at most 1,000 orders, each part is fanned out to ``order_transform:live``
with LambdaMapOperator (the function reads the part and writes its answer in S3, so no task holds the
hour's orders or results as JSON), and its rows in
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

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetWatcher, Param, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from lambdapipe.assets import table_asset
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe.operators.sns import SnsNotifyOperator
from lambdapipe.triggers.dynamodb import DynamoDBStreamTrigger
from lambdapipe_demo import settings
from lambdapipe_demo.tables import ORDER_FACT_TABLES

AWS_CONN_ID = "aws_default"
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
        from lambdapipe_demo import order_run

        return order_run.extract_orders(context, AWS_CONN_ID)

    extracted = extract_orders()

    transform = LambdaMapOperator(
        task_id="transform_orders",
        function_name="order_transform",
        qualifier="live",
        items_s3_uri=extracted["items_uri"],  # the staged parts' index: one item per part
        items_s3_format="jsonl",
        max_items_per_batch=1,  # a part is <= 1,000 orders: the function reads and answers it in S3
        batch_input_key="parts",
        max_concurrency=4,
        results_bucket=settings.PIPELINE_BUCKET,
        aws_conn_id=AWS_CONN_ID,
    )

    @task(
        outlets=[
            *(table_asset(name) for name in ORDER_FACT_TABLES),
            table_asset("pipeline_runs"),
        ]
    )
    def record_orders(manifest_uri: str, map_summary: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Account for every order, then replace the run's hours in every table at once; record the run."""
        from lambdapipe_demo import order_run

        return order_run.record_orders(manifest_uri, map_summary, context, AWS_CONN_ID)

    recorded = record_orders(extracted["manifest_uri"], transform.output)

    @task
    def alert_message(summary: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The alert to send, or {} when the run is within its thresholds."""
        from lambdapipe_demo.order_facts import alert_message

        params = context["params"]
        return alert_message(summary, params["alert_reject_rate"], params["alert_anomalies"])

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary_message(**context: Any) -> dict[str, Any]:
        """record_orders' outcome, or a failed-run summary: one summary per run, however it ends."""
        from lambdapipe_demo import run_summary

        return run_summary.summary_message(context, recorded_by="record_orders")

    summary = summary_message()
    recorded >> summary
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
        message=alert_message(recorded),
        kind="alert",
        message_attributes={"pipeline": "order_analytics", "severity": "warning"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )


order_analytics()
