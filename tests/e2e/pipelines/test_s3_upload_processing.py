"""The shipped ``s3_upload_processing`` DAG end to end on the local stack, run by Airflow for real.

``dag.test()`` runs the DAG file from dags/ in this process; ``airflow tasks test`` runs as a
subprocess on a watcher's run, as in docs/pipeline-uploads.md (tests/e2e/test_docs.py runs that
page's ``dags trigger`` recipe as written). A run under ``dag.test()`` or ``dags trigger`` has no
triggering asset events (like the hourly reconcile run), so the event path is driven the way the
platform drives it: the DAG's own watcher trigger (as the triggerer loads it)
receives the S3 notifications from the ``upload-events`` queue, the asset event is registered as the
triggerer registers it, and the run is created as the scheduler creates it, consuming that event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from include.sample_uploads import make_samples, upload_samples
from tests.e2e.pipelines.conftest import PipelineStack
from tests.support.dag_runs import task_states
from tests.support.run_summaries import failed_run_summary, states_after_the_first_task_failed

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_ID = "s3_upload_processing"
TASKS = (
    "collect_uploads",
    "resize_images",
    "record_uploads",
    "alert_message",
    "summary_message",
    "notify_summary",
    "notify_alert",
)
FIRST_RUN_DATE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
RECONCILE_RUN_DATE = FIRST_RUN_DATE + dt.timedelta(days=1)
FAILED_RUN_DATE = FIRST_RUN_DATE + dt.timedelta(days=2)
RESIZABLE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}  # image_resize's; BMP is a valid image it rejects
EXPECTED_REASONS = {
    "empty": "empty object",
    "truncated": "truncated or corrupt image",
    "not_an_image": "not an image",
    "bomb": "decompression bomb",
    None: "unsupported format BMP",
}


def shipped_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=REPO / "dags" / f"{DAG_ID}.py", safe_mode=False).dags[DAG_ID]


def uploads_rows() -> list[dict[str, Any]]:
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    return read_table(ensure_table("uploads")).to_pylist()


def table_contents(table_name: str) -> list[str]:
    """Every row of a table, as sorted JSON: equal lists mean not one value changed."""
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    rows = read_table(ensure_table(table_name)).to_pylist()
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)


def drain(stack: PipelineStack, queue: str) -> list[dict[str, Any]]:
    """Receive and delete every message on a notification inbox: this DAG's SNS envelopes, decoded.

    Other pipelines' tests share the stack and its inboxes: their messages are dropped.
    """
    sqs = stack.client("sqs")
    url = stack.resources[queue]
    envelopes = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [envelope for envelope in envelopes if attributes(envelope).get("dag_id") == DAG_ID]


def attributes(envelope: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}


def xcom(run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def run_task_states(run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id
            )
        )
        return {task_id: str(state) for task_id, state in rows}


def quarantine_key(key: str) -> str:
    return "quarantine/" + key.removeprefix("incoming/")


@dataclass
class MixedRun:
    run: Any
    uploaded: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


@pytest.fixture(scope="module")
def mixed_run(pipeline_stack: PipelineStack) -> MixedRun:
    """One image per format and every kind of bad file, processed by a run without asset events."""
    for inbox in ("notifications_inbox_url", "alerts_inbox_url"):
        drain(pipeline_stack, inbox)  # whatever earlier runs of this DAG sent
    uploaded = upload_samples(pipeline_stack.client("s3"), make_samples(5, seed=11, max_side=300), "mixed")
    run = shipped_dag().test(
        run_after=FIRST_RUN_DATE, logical_date=FIRST_RUN_DATE, run_conf={"alert_reject_rate": 0.2}
    )
    return MixedRun(
        run,
        uploaded,
        drain(pipeline_stack, "notifications_inbox_url"),
        drain(pipeline_stack, "alerts_inbox_url"),
    )


def test_every_upload_gets_exactly_one_row_good_ones_resized_bad_ones_quarantined_with_a_reason(
    pipeline_stack: PipelineStack, mixed_run: MixedRun
) -> None:
    s3 = pipeline_stack.client("s3")
    assert set(task_states(mixed_run.run).values()) == {"success"}
    rows = uploads_rows()
    rows_per_key = Counter(row["key"] for row in rows)
    by_key = {row["key"]: row for row in rows}
    for upload in mixed_run.uploaded:
        key = upload["key"]
        assert rows_per_key[key] == 1, key
        row = by_key[key]
        assert (row["bucket"], row["etag"], row["run_id"]) == (
            "uploads",
            upload["etag"],
            mixed_run.run.run_id,
        )
        if upload["defect"] is None and upload["format"] in RESIZABLE_FORMATS:
            assert (row["status"], row["output_key"]) == ("resized", f"resized/{key}"), key
            assert s3.head_object(Bucket="uploads", Key=f"resized/{key}")["ContentLength"] > 0
            assert max(row["width"], row["height"]) == min(256, max(upload["width"], upload["height"]))
            # The original left incoming/ once recorded: a reconcile lists only what is new.
            original = s3.head_object(Bucket="uploads", Key=key.replace("incoming/", "processed/", 1))
            assert original["ETag"].strip('"') == upload["etag"]
            assert "Contents" not in s3.list_objects_v2(Bucket="uploads", Prefix=key)
            continue
        assert row["status"] == "rejected", key
        assert EXPECTED_REASONS[upload["defect"]] in row["reason"], (key, row["reason"])
        assert row["output_key"] == quarantine_key(key)
        moved = s3.head_object(Bucket="uploads", Key=quarantine_key(key))
        assert moved["Metadata"]["reason"] == row["reason"].encode("ascii", "replace").decode()
        assert moved["ContentLength"] == upload["bytes"]
        assert "Contents" not in s3.list_objects_v2(Bucket="uploads", Prefix=key)
    # Keys S3 sends encoded (quote_plus) were recorded decoded: spaces, "+", unicode.
    keys = [upload["key"] for upload in mixed_run.uploaded]
    assert any(" " in key for key in keys) and any("+" in key for key in keys)
    assert any(not key.isascii() for key in keys)


def test_the_run_publishes_one_summary_and_one_alert_with_message_attributes(mixed_run: MixedRun) -> None:
    (summary,) = mixed_run.summaries
    run_id = mixed_run.run.run_id
    assert summary["Subject"] == "s3_upload_processing summary"
    assert attributes(summary) == {"kind": "summary", "dag_id": DAG_ID, "run_id": run_id, "pipeline": DAG_ID}
    assert xcom(mixed_run.run.run_id, "notify_summary")["message_id"] == summary["MessageId"]
    counts = json.loads(summary["Message"])
    rejected = sum(1 for u in mixed_run.uploaded if u["defect"] or u["format"] not in RESIZABLE_FORMATS)
    assert (counts["uploads_in"], counts["processed"], counts["rejected"], counts["failed"]) == (
        len(mixed_run.uploaded),
        len(mixed_run.uploaded) - rejected,
        rejected,
        0,
    )
    assert counts["bytes_in"] == sum(u["bytes"] for u in mixed_run.uploaded)
    assert counts["lambda_cost_usd"] > 0
    (alert,) = mixed_run.alerts
    assert attributes(alert) == {
        "kind": "alert",
        "dag_id": DAG_ID,
        "run_id": run_id,
        "pipeline": DAG_ID,
        "severity": "warning",
    }
    assert json.loads(alert["Message"])["reject_rate"] == round(rejected / len(mixed_run.uploaded), 3)


def test_a_run_that_fails_still_sends_one_summary_naming_the_failed_task(
    pipeline_stack: PipelineStack,
) -> None:
    """collect_uploads cannot list incoming/ (S3 answers 500 every time), so nothing downstream runs:
    the run fails, and its summary says so instead of the run going unreported."""
    from lambdapipe_local.admin.faults import FaultRule

    drain(pipeline_stack, "notifications_inbox_url")
    dag = shipped_dag()
    for task in dag.tasks:
        task.retries = 0  # the run's end is under test, not Airflow's retries (10 s apart)
    faults = pipeline_stack.aws.faults
    listing_fails = faults.add(FaultRule(service="s3", operation="ListObjectsV2", error="s3_internal_error"))
    try:
        run = dag.test(
            run_after=FAILED_RUN_DATE,
            logical_date=FAILED_RUN_DATE,
            run_conf={"reconcile": True, "alert_reject_rate": 0.5},
        )
    finally:
        faults.remove(listing_fails)
    summaries = drain(pipeline_stack, "notifications_inbox_url")

    assert str(run.state) == "failed"
    assert run_task_states(run.run_id) == states_after_the_first_task_failed(TASKS)
    (summary,) = summaries
    assert attributes(summary)["run_id"] == run.run_id
    assert json.loads(summary["Message"]) == failed_run_summary(
        run.run_id, "collect_uploads", "record_uploads"
    )


def test_rerunning_the_same_dag_run_changes_no_row_and_sends_no_second_notification(
    pipeline_stack: PipelineStack, mixed_run: MixedRun
) -> None:
    tables = ("uploads", "lambda_invocations", "pipeline_runs")
    before = {table: table_contents(table) for table in tables}

    again = shipped_dag().test(
        run_after=FIRST_RUN_DATE, logical_date=FIRST_RUN_DATE, run_conf={"alert_reject_rate": 0.2}
    )

    assert again.run_id == mixed_run.run.run_id
    assert set(task_states(again).values()) == {"success"}
    assert {table: table_contents(table) for table in tables} == before
    assert drain(pipeline_stack, "notifications_inbox_url") == []
    assert drain(pipeline_stack, "alerts_inbox_url") == []
    assert xcom(again.run_id, "collect_uploads") == []
    assert xcom(again.run_id, "notify_summary")["sent"] is False


@dataclass
class OverlappingRuns:
    """A watcher-triggered run, a reconcile run made while it ran, and the event run's end."""

    event_run_id: str
    reconcile_run_id: str
    lost_key: str
    event_keys: list[str]
    cli: dict[str, subprocess.CompletedProcess]
    # Messages on the upload-events queue (visible + hidden): after the watcher fired, after the
    # event run collected, and after it recorded its uploads.
    queued: dict[str, int]


def queued_messages(stack: PipelineStack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources["upload_events_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.fixture(scope="module")
def overlapping_runs(pipeline_stack: PipelineStack) -> OverlappingRuns:
    """The event run's tasks under ``airflow tasks test``, with a reconcile run between them.

    One upload's notification is deleted before any watcher saw it (the queue is purged); two more
    arrive on the queue. The watcher's own trigger turns those two into an asset-triggered run,
    whose ``collect_uploads`` runs under ``airflow tasks test`` (claiming them); then a reconcile
    run (``dag.test()``) runs every task; then the event run resizes and records its two uploads.
    """
    s3, sqs = pipeline_stack.client("s3"), pipeline_stack.client("sqs")
    (lost,) = upload_samples(s3, make_samples(1, seed=21, max_side=120, bad=False), "lost")
    sqs.purge_queue(QueueUrl=pipeline_stack.resources["upload_events_queue_url"])
    arrived = upload_samples(s3, make_samples(2, seed=22, max_side=120, bad=False), "events")
    event_run_id = run_from_watcher_event(shipped_dag())
    queued = {"watcher fired": queued_messages(pipeline_stack)}
    cli = {"collect_uploads": airflow("tasks", "test", DAG_ID, "collect_uploads", event_run_id)}
    queued["event run collected"] = queued_messages(pipeline_stack)
    reconcile = shipped_dag().test(
        run_after=RECONCILE_RUN_DATE, logical_date=RECONCILE_RUN_DATE, run_conf={"reconcile": True}
    )
    for task_id in ("resize_images", "record_uploads"):
        cli[task_id] = airflow("tasks", "test", DAG_ID, task_id, event_run_id)
    queued["event run recorded"] = queued_messages(pipeline_stack)
    return OverlappingRuns(
        event_run_id, reconcile.run_id, lost["key"], [upload["key"] for upload in arrived], cli, queued
    )


def run_from_watcher_event(dag: Any) -> str:
    """Fire the DAG's AssetWatcher trigger once and turn its event into a run, as the platform does."""
    from airflow.assets.manager import AssetManager
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.asset import AssetModel
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    DagBundlesManager().sync_bundles_to_db()  # the dag-processor's part: the DAG and its asset in the DB
    bag = BundleDagBag(dag_folder=REPO / "dags", bundle_path=REPO / "dags", bundle_name="dags-folder")
    sync_bag_to_db(bag, "dags-folder", None)
    ((_, asset),) = dag.timetable.asset_condition.iter_assets()
    watched = asset.watchers[0].trigger  # serialized, as the triggerer loads it from the DB
    module, _, name = watched["classpath"].rpartition(".")
    trigger = getattr(importlib.import_module(module), name)(**watched["kwargs"])
    payload = asyncio.run(first_event(trigger))
    now = timezone.utcnow()
    with create_session() as session:
        event = AssetManager.register_asset_change(
            asset=session.scalar(select(AssetModel).where(AssetModel.name == asset.name)),
            extra={"from_trigger": True, "payload": payload},
            session=session,
        )
        run = SerializedDagModel.get_dag(DAG_ID, session=session).create_dagrun(  # the scheduler's part
            run_id=f"asset_triggered__{now.isoformat()}",
            logical_date=None,
            data_interval=None,
            run_after=now,
            run_type=DagRunType.ASSET_TRIGGERED,
            triggered_by=DagRunTriggeredByType.ASSET,
            state=DagRunState.QUEUED,
            session=session,
        )
        run.consumed_asset_events.append(event)
        return run.run_id


async def first_event(trigger: Any) -> dict[str, Any]:
    events = trigger.run()
    try:
        return (await anext(events)).payload
    finally:
        await events.aclose()


def airflow(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *argv], capture_output=True, text=True, env=dict(os.environ), timeout=600)


def test_a_reconcile_run_beside_an_event_run_processes_the_upload_whose_event_was_lost(
    pipeline_stack: PipelineStack, overlapping_runs: OverlappingRuns
) -> None:
    reconcile_run_id = overlapping_runs.reconcile_run_id
    assert run_task_states(reconcile_run_id) == dict.fromkeys(TASKS, "success")
    rows = [row for row in uploads_rows() if row["key"] == overlapping_runs.lost_key]
    assert [(row["status"], row["run_id"]) for row in rows] == [("resized", reconcile_run_id)]
    resized = pipeline_stack.client("s3").head_object(
        Bucket="uploads", Key=f"resized/{overlapping_runs.lost_key}"
    )
    assert resized["ContentLength"] > 0
    assert xcom(reconcile_run_id, "notify_summary")["sent"] is True


def test_an_event_run_collects_exactly_its_events_and_an_overlapping_reconcile_run_leaves_them_to_it(
    overlapping_runs: OverlappingRuns,
) -> None:
    for task_id, done in overlapping_runs.cli.items():
        assert done.returncode == 0, (
            f"airflow tasks test {task_id}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    # `airflow tasks test` exits 0 even when the task fails: the task instances' states tell.
    states = run_task_states(overlapping_runs.event_run_id)
    assert {task_id: states[task_id] for task_id in overlapping_runs.cli} == dict.fromkeys(
        overlapping_runs.cli, "success"
    )
    event_collected = [upload["key"] for upload in xcom(overlapping_runs.event_run_id, "collect_uploads")]
    assert sorted(event_collected) == sorted(overlapping_runs.event_keys)
    reconcile_collected = [
        upload["key"] for upload in xcom(overlapping_runs.reconcile_run_id, "collect_uploads")
    ]
    assert overlapping_runs.lost_key in reconcile_collected
    assert not set(overlapping_runs.event_keys) & set(reconcile_collected)  # claimed by the event run
    recorded = sorted(
        (row["key"], row["run_id"]) for row in uploads_rows() if row["key"] in overlapping_runs.event_keys
    )
    assert recorded == sorted((key, overlapping_runs.event_run_id) for key in overlapping_runs.event_keys)


def test_the_watcher_consumes_no_message_until_the_run_recorded_its_uploads(
    overlapping_runs: OverlappingRuns,
) -> None:
    """At-least-once: a run that dies before recording leaves its notifications to come back."""
    assert overlapping_runs.queued == {"watcher fired": 2, "event run collected": 2, "event run recorded": 0}
