"""Process images uploaded under s3://uploads/incoming/: resize with Lambda, record, notify.

Runs when S3 notifications arrive on the SQS queue ``upload-events`` (an AssetWatcher) and every
hour as a reconcile pass that picks up anything the watcher missed. The watcher does not delete
messages on receipt: the run deletes them once it recorded its uploads, so a run that dies lets them
come back and start another run (at-least-once). Each object is claimed before processing, so a watcher
run and a reconcile run never process the same object twice; every object ends with one row in the
``uploads`` table; rejected files move to ``quarantine/`` with the reason as metadata; one SNS
summary per run, and an alert when the reject rate passes ``alert_reject_rate``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
from airflow.sdk import Asset, AssetWatcher, Param, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from lambdapipe.assets import table_asset
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe.operators.sns import SnsNotifyOperator
from lambdapipe_demo import settings, upload_messages

AWS_CONN_ID = "aws_default"

upload_events = Asset(
    name="s3_upload_events",
    uri=f"x-sqs://{settings.UPLOAD_EVENTS_QUEUE}",
    watchers=[
        AssetWatcher(
            name="upload_events_queue",
            trigger=MessageQueueTrigger(
                scheme="sqs",
                sqs_queue=settings.queue_url(settings.UPLOAD_EVENTS_QUEUE),
                aws_conn_id=AWS_CONN_ID,
                region_name=settings.REGION,
                # SQS's most per receive (the trigger's default is 5): fewer, larger runs in a burst.
                max_messages=10,
                waiter_delay=1,
                # At-least-once: the messages stay hidden while their run works, and the run deletes them.
                delete_message_on_reception=False,
                visibility_timeout=upload_messages.WATCHER_VISIBILITY_S,
            ),
        )
    ],
)


@dag(
    dag_id="s3_upload_processing",
    description="Resize uploaded images with Lambda, record every upload once, notify via SNS",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"), assets=upload_events
    ),
    catchup=False,
    tags=["lambdapipe", "s3", "lambda", "sns"],
    default_args={"owner": "lambdapipe", "retries": 2, "retry_delay": timedelta(seconds=10)},
    params={
        "reconcile": Param(False, type="boolean", description="list incoming/ instead of reading events"),
        "alert_reject_rate": Param(0.5, type="number", description="alert when rejected/uploads exceeds it"),
    },
    max_active_runs=4,
    doc_md=__doc__,
)
def s3_upload_processing() -> None:
    @task
    def collect_uploads(**context: Any) -> list[dict[str, Any]]:
        """The uploads this run owns: from the triggering S3 events, or (reconcile) all of incoming/."""
        from lambdapipe_demo import upload_run

        return upload_run.collect_uploads(context, AWS_CONN_ID)

    uploads = collect_uploads()

    resize = LambdaMapOperator(
        task_id="resize_images",
        function_name="image_resize",
        qualifier="live",
        items=uploads,
        max_items_per_batch=5,
        max_concurrency=20,
        results_bucket=settings.PIPELINE_BUCKET,
        tolerated_failure_percentage=100,
        aws_conn_id=AWS_CONN_ID,
    )

    @task(outlets=[table_asset("uploads"), table_asset("pipeline_runs")])
    def record_uploads(
        uploads: list[dict[str, Any]], map_summary: dict[str, Any], **context: Any
    ) -> dict[str, Any]:
        """Quarantine rejects, commit one row per upload (replacing this run's rows), finish the claims."""
        from lambdapipe_demo import upload_run

        return upload_run.record_uploads(uploads, map_summary, context, AWS_CONN_ID)

    outcome = record_uploads(uploads, resize.output)

    @task
    def alert_message(outcome: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The alert to send, or {} when the run is within its thresholds."""
        from lambdapipe_demo import upload_run

        return upload_run.alert_message(outcome, context["params"]["alert_reject_rate"])

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary_message(**context: Any) -> dict[str, Any]:
        """record_uploads' outcome, or a failed-run summary: one summary per run, however it ends."""
        from lambdapipe_demo import run_summary

        return run_summary.summary_message(context, recorded_by="record_uploads")

    summary = summary_message()
    outcome >> summary
    SnsNotifyOperator(
        task_id="notify_summary",
        topic_arn=settings.topic_arn(settings.NOTIFICATIONS_TOPIC),
        subject="s3_upload_processing summary",
        message=summary,
        kind="summary",
        message_attributes={"pipeline": "s3_upload_processing"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )
    SnsNotifyOperator(
        task_id="notify_alert",
        topic_arn=settings.topic_arn(settings.ALERTS_TOPIC),
        subject="s3_upload_processing alert",
        message=alert_message(outcome),
        kind="alert",
        message_attributes={"pipeline": "s3_upload_processing", "severity": "warning"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )


s3_upload_processing()
