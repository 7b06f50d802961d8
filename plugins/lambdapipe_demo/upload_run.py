"""The task bodies of ``dags/s3_upload_processing.py``: each task is one call into this module.

Imported only when a task runs (the DAG file imports it inside its tasks), so it may import
Airflow hooks and the tables at module level.
"""

from __future__ import annotations

import functools
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.sdk.api.client import ServerResponseError
from airflow.sdk.exceptions import AirflowRuntimeError
from botocore.exceptions import ClientError

from lambdapipe.events.s3_events import ObjectFilter
from lambdapipe.fanout.results import item_results
from lambdapipe.idempotency import IdempotencyStore
from lambdapipe.tables.commit import commit_rows
from lambdapipe_demo import settings, upload_messages
from lambdapipe_demo import uploads as steps
from lambdapipe_demo.run_records import pipeline_run_row, run_rows, run_url


def collect_uploads(context: Any, aws_conn_id: str) -> list[dict[str, Any]]:
    """The uploads this run owns: from the triggering S3 events, or (reconcile) all of incoming/."""
    s3 = AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn
    dynamodb = AwsBaseHook(client_type="dynamodb", aws_conn_id=aws_conn_id).conn
    store = IdempotencyStore(dynamodb, settings.IDEMPOTENCY_TABLE)
    asset_events = [event for events in context["triggering_asset_events"].values() for event in events]
    if asset_events and not context["params"]["reconcile"]:
        sqs = AwsBaseHook(client_type="sqs", aws_conn_id=aws_conn_id).conn
        upload_messages.hold(
            sqs, settings.queue_url(settings.UPLOAD_EVENTS_QUEUE), triggering_messages(context)
        )
        events, problems = steps.events_from_asset_events(asset_events)
        for problem in problems:
            print(f"Not an S3 event notification, ignored: {problem}")
        wanted = ObjectFilter(prefix=steps.UPLOAD_PREFIX)
        candidates = steps.uploads_from_events(s3, events, wanted)
    else:
        candidates = steps.reconcile_candidates(s3, store, settings.UPLOADS_BUCKET)
    ti = context["ti"]
    mine = steps.claim_new(
        store, candidates, ti.run_id, recorded_uploads, functools.partial(run_ended, ti, ti.dag_id)
    )
    print(f"{len(candidates)} candidate upload(s), {len(mine)} to process in this run")
    return [upload.to_dict() for upload in mine]


def record_uploads(
    uploads: list[dict[str, Any]], map_summary: dict[str, Any], context: Any, aws_conn_id: str
) -> dict[str, Any]:
    """Quarantine rejects, commit one row per upload (replacing this run's rows), finish the claims."""
    s3 = AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn
    store = IdempotencyStore(
        AwsBaseHook(client_type="dynamodb", aws_conn_id=aws_conn_id).conn, settings.IDEMPOTENCY_TABLE
    )
    ti = context["ti"]
    items = [steps.Upload(**upload) for upload in uploads]
    earlier = run_rows("uploads", ti.dag_id, ti.run_id)
    if not items and run_rows("pipeline_runs", ti.dag_id, ti.run_id, ["run_id"]):
        print("A rerun with no new upload: this run's rows stay as they were committed")
        return steps.summary(earlier, None, problems=[]) | {"run_url": run_url(ti)}
    results = item_results(s3, map_summary) if items else []
    outcomes = steps.outcome_rows(items, results)
    settled = [row for row in outcomes if row["status"] != "failed"] + steps.give_up_on_poison(
        store, [row for row in outcomes if row["status"] == "failed"], ti.run_id
    )
    # Failed uploads are not recorded (their claims are released for the next reconcile to retry);
    # the rest are sealed, and those whose claim another run took over are left to that run.
    recorded = steps.keep_held_claims(store, [row for row in settled if row["status"] != "failed"], ti.run_id)
    failed = [row for row in settled if row["status"] == "failed"]
    rows = recorded + failed
    for row in recorded:
        if row["status"] == "rejected":
            quarantine_or_explain(s3, row)
    commit_rows("uploads", steps.merge_rows(earlier, recorded))
    result = steps.summary(steps.merge_rows(earlier, rows), map_summary, problems=[])
    result["run_url"] = run_url(ti)
    commit_rows(
        "pipeline_runs",
        [pipeline_run_row(context, result["uploads_in"], result["processed"], result["rejected"])],
    )
    for row in recorded:
        claim_key = steps.Upload(row["bucket"], row["key"], row["etag"]).claim_key
        store.finish(claim_key, owner=ti.run_id, **{steps.DESTINATION: steps.destination(row)})
    steps.release_failed(store, failed, ti.run_id)
    if messages := triggering_messages(context):
        sqs = AwsBaseHook(client_type="sqs", aws_conn_id=aws_conn_id).conn
        deleted = upload_messages.acknowledge(sqs, settings.queue_url(settings.UPLOAD_EVENTS_QUEUE), messages)
        print(f"Deleted {deleted} of the {len(messages)} notification(s) that triggered this run")
    # Last, and best effort: a move S3 refuses is finished by the next reconcile (the claim says where).
    for row in recorded:
        if steps.destination(row) == steps.PROCESSED_PREFIX:  # rejects are in quarantine/ already
            steps.leave_incoming(s3, row)
    return result


def run_ended(ti: Any, dag_id: str, run_id: str) -> bool:
    """Whether DAG run ``run_id`` is over (failed or succeeded), asked of Airflow's execution API.

    A run Airflow does not know (deleted) counts as not over: its claims wait for the stale timeout.
    The API's 404 reaches a task as ``AirflowRuntimeError`` through its supervisor, and as
    ``ServerResponseError`` where the task runs in-process (``dag.test()``).
    """
    try:
        return ti.get_dagrun_state(dag_id, run_id) in {"success", "failed"}
    except (AirflowRuntimeError, ServerResponseError):
        return False


def recorded_uploads(uploads: list[steps.Upload]) -> set[tuple[str, str, str]]:
    """(bucket, key, etag) of those of ``uploads`` the table has a row for: a lookup by key."""
    from pyiceberg.expressions import In

    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    rows = read_table(
        ensure_table("uploads"),
        row_filter=In("key", {upload.key for upload in uploads}),
        columns=["bucket", "key", "etag"],
    ).to_pylist()
    return {(row["bucket"], row["key"], row["etag"]) for row in rows}


def triggering_messages(context: Any) -> list[dict[str, Any]]:
    """The upload-events messages behind this run (none for a reconcile run)."""
    if context["params"]["reconcile"]:
        return []
    events = [event for events in context["triggering_asset_events"].values() for event in events]
    return upload_messages.triggering_messages(events)


def quarantine_or_explain(s3: Any, row: dict[str, Any]) -> None:
    """Quarantine one rejected upload; if S3 refuses, say so in its reason instead of failing the others."""
    try:
        row["output_key"] = steps.quarantine(s3, row)
    except (ClientError, steps.QuarantineError) as error:
        row["reason"] = f"{row['reason']}; left in {steps.UPLOAD_PREFIX}: quarantine failed: {error}"


def alert_message(outcome: dict[str, Any], alert_reject_rate: float) -> dict[str, Any]:
    """The alert to send, or {} when the run is within its thresholds (SnsNotifyOperator sends nothing)."""
    uploads_in = outcome["uploads_in"]
    rate = outcome["rejected"] / uploads_in if uploads_in else 0.0
    if rate <= alert_reject_rate and not outcome["failed"]:
        return {}
    return {"reason": "reject rate or failures above threshold", "reject_rate": round(rate, 3), **outcome}
