"""The shipped ``order_analytics`` DAG end to end on the local stack, run by Airflow for real.

The hourly path runs under ``dag.test()`` in this process. The stream path is driven the way the
platform drives it: the DAG's own watcher trigger sees an order written after its checkpoint, the
asset event is registered as the triggerer registers it, the run is created as the scheduler creates
it, and every task then runs with ``airflow tasks test`` in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.module_loading import import_string

from include.sample_orders import SampleOrder, generate_orders, write_orders
from lambdapipe.fanout.run_store import RunLocation
from lambdapipe_demo import order_staging, settings
from lambdapipe_demo import orders as steps
from lambdapipe_demo.order_facts import OrderAccountingError, PartAnswers, RunTally, read_facts
from lambdapipe_demo.order_staging import (
    StagedExtract,
    StagedPart,
    read_manifest,
    read_part_orders,
    stage_orders,
)
from lambdapipe_demo.orders import Window, orders_table_definition
from tests.e2e.pipelines.conftest import PipelineStack
from tests.e2e.pipelines.order_helpers import (
    HANG_GUARD_S,
    ORDER_DAG,
    REPO,
    JsonStateStore,
    airflow_in_process,
    attributes,
    deploy_order_transform,
    drain,
    expected_usd_total,
    hour_rows,
    seed_orders,
    sent_by,
    shipped_dag,
    start,
    stop,
    table_rows,
    task_states,
    write_raw_orders,
    xcom,
)
from tests.support.run_summaries import failed_run_summary, states_after_the_first_task_failed

pytestmark = pytest.mark.timeout(900)

TASKS = (
    "extract_orders",
    "transform_orders",
    "record_orders",
    "alert_message",
    "summary_message",
    "notify_summary",
    "notify_alert",
)
HOUR = Window(datetime(2026, 1, 15, 10, tzinfo=UTC))
STREAM_HOUR = Window(datetime(2026, 1, 20, 10, tzinfo=UTC))


@pytest.fixture(scope="module")
def order_stack(pipeline_stack: PipelineStack, tmp_path_factory: pytest.TempPathFactory) -> PipelineStack:
    deploy_order_transform(pipeline_stack, tmp_path_factory.mktemp("order-functions"))
    return pipeline_stack


@dataclass
class HourRun:
    run: Any
    orders: list[SampleOrder]
    neighbours: list[SampleOrder]
    summaries: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


@pytest.fixture(scope="module")
def hour_run(order_stack: PipelineStack) -> HourRun:
    """The hourly run for 10:00-11:00, with orders in that hour and in the hours around it."""
    orders = seed_orders(order_stack, HOUR.start, 240, seed=101, invalid_share=0.2)
    neighbours = seed_orders(order_stack, HOUR.start - timedelta(hours=1), 10, seed=102)
    neighbours += seed_orders(order_stack, HOUR.end, 10, seed=103)
    drain(order_stack, "notifications_inbox_url")
    drain(order_stack, "alerts_inbox_url")
    run = shipped_dag(ORDER_DAG).test(run_after=HOUR.end, logical_date=HOUR.end)
    return HourRun(
        run,
        orders,
        neighbours,
        sent_by(drain(order_stack, "notifications_inbox_url"), ORDER_DAG),
        sent_by(drain(order_stack, "alerts_inbox_url"), ORDER_DAG),
    )


def hour_ids(table_name: str, window: Window) -> list[str]:
    return sorted(row["order_id"] for row in hour_rows(table_name, window))


def test_an_hours_orders_become_facts_and_rejects_that_add_up_to_the_source_exactly(
    hour_run: HourRun,
) -> None:
    valid = [order for order in hour_run.orders if order.defect is None]
    invalid = [order for order in hour_run.orders if order.defect]
    facts, rejects = hour_rows("orders", HOUR), hour_rows("order_rejects", HOUR)

    assert set(task_states(ORDER_DAG, hour_run.run.run_id).values()) == {"success"}
    assert len(facts) + len(rejects) == len(hour_run.orders) == 240
    assert sorted(row["order_id"] for row in facts) == sorted(order.order_id for order in valid)
    assert {row["order_id"]: row["reason"] for row in rejects} == {
        order.order_id: order.expected_reason for order in invalid
    }
    assert {row["reason"] for row in rejects} == {
        "missing_field",
        "invalid_type",
        "non_positive_qty",
        "unknown_currency",
        "too_many_decimals",
        "duplicate_sku",
        "too_many_items",
    }
    assert len(hour_rows("order_lines", HOUR)) == sum(len(order.item["items"]) for order in valid)
    every_row = facts + rejects
    assert {(row["interval_start"], row["interval_end"]) for row in every_row} == {(HOUR.start, HOUR.end)}
    assert {row["run_id"] for row in every_row} == {hour_run.run.run_id}
    neighbour_ids = {order.order_id for order in hour_run.neighbours}
    assert not neighbour_ids & {row["order_id"] for row in table_rows("orders") + table_rows("order_rejects")}


def test_the_facts_totals_match_an_independent_decimal_computation(hour_run: HourRun) -> None:
    expected = {
        order.order_id: expected_usd_total(order) for order in hour_run.orders if order.defect is None
    }
    facts = {row["order_id"]: row for row in hour_rows("orders", HOUR)}
    lines = hour_rows("order_lines", HOUR)

    assert {order_id: row["order_total_usd"] for order_id, row in facts.items()} == expected
    assert sum(row["order_total_usd"] for row in facts.values()) == sum(expected.values())
    line_totals: Counter[str] = Counter()
    for line in lines:
        line_totals[line["order_id"]] += line["line_total_usd"]
    assert dict(line_totals) == expected
    (summary,) = hour_run.summaries
    assert Decimal(json.loads(summary["Message"])["revenue_usd"]) == sum(expected.values())
    anomalies = sorted(order_id for order_id, total in expected.items() if total > Decimal("10000.00"))
    assert anomalies
    assert (
        sorted(order_id for order_id, row in facts.items() if row["anomalies"] == ["high_total"]) == anomalies
    )


def test_the_run_sends_one_summary_and_one_alert_and_records_itself(hour_run: HourRun) -> None:
    invalid = sum(1 for order in hour_run.orders if order.defect)
    (summary,) = hour_run.summaries
    message = json.loads(summary["Message"])
    (alert,) = hour_run.alerts  # 20% rejects > the 15% threshold

    assert summary["Subject"] == "order_analytics summary"
    assert attributes(summary) == {
        "kind": "summary",
        "dag_id": ORDER_DAG,
        "run_id": hour_run.run.run_id,
        "pipeline": ORDER_DAG,
    }
    assert (message["orders_in"], message["orders_rejected"], message["windows"]) == (
        240,
        invalid,
        [HOUR.to_dict()],
    )
    assert message["lambda_cost_usd"] > 0 and message["lambda_invocations"] >= 1
    assert attributes(alert)["severity"] == "warning"
    assert "reject rate 20.0% above 15.0%" in json.loads(alert["Message"])["reason"]
    run_id = hour_run.run.run_id
    (run_row,) = [row for row in table_rows("pipeline_runs") if row["run_id"] == run_id]
    assert (run_row["count_in"], run_row["count_out"], run_row["count_rejected"]) == (
        240,
        240 - invalid,
        invalid,
    )
    assert (run_row["data_interval_start"], run_row["data_interval_end"]) == (HOUR.start, HOUR.end)
    invocations = [row for row in table_rows("lambda_invocations") if row["run_id"] == run_id]
    assert len(invocations) == message["lambda_invocations"]
    assert {row["function_name"] for row in invocations} == {"order_transform"}


def test_rerunning_the_hour_changes_no_count_and_sends_no_second_notification(
    order_stack: PipelineStack, hour_run: HourRun
) -> None:
    tables = ("orders", "order_lines", "order_rejects")
    before = {table: hour_ids(table, HOUR) for table in tables}

    again = shipped_dag(ORDER_DAG).test(run_after=HOUR.end, logical_date=HOUR.end)

    assert again.run_id == hour_run.run.run_id
    assert set(task_states(ORDER_DAG, again.run_id).values()) == {"success"}
    assert {table: hour_ids(table, HOUR) for table in tables} == before
    assert sent_by(drain(order_stack, "notifications_inbox_url"), ORDER_DAG) == []
    assert sent_by(drain(order_stack, "alerts_inbox_url"), ORDER_DAG) == []
    assert xcom(ORDER_DAG, again.run_id, "notify_summary")["sent"] is False


def test_another_run_over_the_same_hour_replaces_its_rows_instead_of_adding_to_them(
    order_stack: PipelineStack, hour_run: HourRun
) -> None:
    """A run whose interval (10:30-11:30) overlaps the hour owns it whole: same orders, its own run id."""
    tables = ("orders", "order_lines", "order_rejects")
    before = {table: hour_ids(table, HOUR) for table in tables}
    overlapping = HOUR.end + timedelta(minutes=30)

    run = shipped_dag(ORDER_DAG).test(run_after=overlapping, logical_date=overlapping)

    assert set(task_states(ORDER_DAG, run.run_id).values()) == {"success"}
    assert {table: hour_ids(table, HOUR) for table in tables} == before
    assert {row["run_id"] for row in hour_rows("orders", HOUR)} == {run.run_id}
    next_hour = Window(HOUR.end)
    expected_next = sorted(o.order_id for o in hour_run.neighbours if o.item["order_hour"] == next_hour.hour)
    assert sorted(hour_ids("orders", next_hour) + hour_ids("order_rejects", next_hour)) == expected_next
    (summary,) = sent_by(drain(order_stack, "notifications_inbox_url"), ORDER_DAG)  # a new run: its own
    assert json.loads(summary["Message"])["windows"] == [HOUR.to_dict(), next_hour.to_dict()]
    drain(order_stack, "alerts_inbox_url")


POISON_HOUR = Window(datetime(2026, 1, 17, 10, tzinfo=UTC))
FAILED_HOUR = Window(datetime(2026, 1, 18, 10, tzinfo=UTC))


def _stamped(order_id: str, **fields: Any) -> dict[str, Any]:
    """An order stored by the order service at 10:05 of POISON_HOUR, with the given fields."""
    moment = POISON_HOUR.start + timedelta(minutes=5)
    item = {"sku": "SKU-1", "qty": Decimal(1), "unit_price": Decimal("9.99")}
    return {
        "order_id": order_id,
        "customer_id": "c-1",
        "created_at": "2026-01-17T10:05:00Z",
        "status": "paid",
        "currency": "USD",
        "shipping_country": "US",
        "items": [item],
        "order_hour": steps.order_hour(moment),
        "order_time": steps.order_time(moment),
        "order_bucket": steps.order_bucket(order_id, moment),
        **fields,
    }


def test_a_run_with_poison_orders_commits_the_others_and_rejects_them_in_one_snapshot_per_table(
    order_stack: PipelineStack,
) -> None:
    from lambdapipe.tables.catalog import ensure_table

    good = seed_orders(order_stack, POISON_HOUR.start, 20, seed=104, invalid_share=0)
    poison = {
        "qty-1e30": [{"sku": "SKU-1", "qty": Decimal("1E+30"), "unit_price": Decimal("1.00")}],
        "price-1e20": [{"sku": "SKU-1", "qty": Decimal(1), "unit_price": Decimal("1E+20")}],
    }
    write_raw_orders(
        order_stack,
        [
            *(_stamped(order_id, items=items) for order_id, items in poison.items()),
            _stamped("year-one", created_at="0001-01-01T00:30:00+01:00"),
            _stamped(" spaced-id "),  # a legal key: kept exactly, so the accounting finds it
        ],
    )
    drain(order_stack, "notifications_inbox_url")

    run = shipped_dag(ORDER_DAG).test(run_after=POISON_HOUR.end, logical_date=POISON_HOUR.end)

    assert set(task_states(ORDER_DAG, run.run_id).values()) == {"success"}
    assert hour_ids("orders", POISON_HOUR) == sorted([*(order.order_id for order in good), " spaced-id "])
    rejects = {
        row["order_id"]: (row["reason"], row["field"]) for row in hour_rows("order_rejects", POISON_HOUR)
    }
    assert rejects == {
        "qty-1e30": ("out_of_range", "items[0].qty"),
        "price-1e20": ("out_of_range", "items[0].unit_price"),
        "year-one": ("out_of_range", "created_at"),
    }
    for table in ("orders", "order_lines", "order_rejects", "lambda_invocations", "pipeline_runs"):
        snapshots = [
            s for s in ensure_table(table).snapshots() if s.summary.get("airflow.run_id") == run.run_id
        ]
        assert len(snapshots) == 1, f"{table}: the run's rows came in {len(snapshots)} snapshots"
    drain(order_stack, "notifications_inbox_url")
    drain(order_stack, "alerts_inbox_url")


def test_a_run_that_fails_still_sends_one_summary_naming_the_failed_task(order_stack: PipelineStack) -> None:
    """extract_orders cannot query the orders table (DynamoDB answers 500 every time), so nothing
    downstream runs: the run fails, and its summary says so instead of the run going unreported."""
    from lambdapipe_local.admin.faults import FaultRule

    drain(order_stack, "notifications_inbox_url")
    dag = shipped_dag(ORDER_DAG)
    for task in dag.tasks:
        task.retries = 0  # the run's end is under test, not Airflow's retries
    faults = order_stack.aws.faults
    query_fails = faults.add(FaultRule(service="dynamodb", operation="Query", error="internal_error"))
    try:
        run = dag.test(run_after=FAILED_HOUR.end, logical_date=FAILED_HOUR.end)
    finally:
        faults.remove(query_fails)
    summaries = sent_by(drain(order_stack, "notifications_inbox_url"), ORDER_DAG)

    assert str(run.state) == "failed"
    assert task_states(ORDER_DAG, run.run_id) == states_after_the_first_task_failed(TASKS)
    (summary,) = summaries
    assert attributes(summary)["run_id"] == run.run_id
    assert json.loads(summary["Message"]) == failed_run_summary(run.run_id, "extract_orders", "record_orders")


def test_orders_are_read_with_a_parallel_scan_when_the_table_has_no_index(order_stack: PipelineStack) -> None:
    dynamodb = order_stack.client("dynamodb")
    definition = orders_table_definition("orders-without-index")
    del definition["GlobalSecondaryIndexes"]
    definition["AttributeDefinitions"] = [{"AttributeName": "order_id", "AttributeType": "S"}]
    dynamodb.create_table(**definition)
    window = Window(datetime(2026, 1, 25, 8, tzinfo=UTC))
    orders = generate_orders(60, start=window.start - timedelta(hours=1), hours=3, seed=301)
    write_orders(_resource_table(order_stack, "orders-without-index"), orders)

    s3 = order_stack.client("s3")
    staged = stage_orders(
        dynamodb,
        s3,
        "orders-without-index",
        [window],
        settings.PIPELINE_BUCKET,
        f"{settings.EXTRACT_PREFIX}scan-test",
        parallelism=3,
    )

    parts = read_manifest(s3, staged.manifest_uri)
    assert list(parts) == [window]
    found = [
        (order["order_time"], order["order_id"])
        for part in parts[window]
        for order in read_part_orders(s3, settings.PIPELINE_BUCKET, part.key)
    ]
    expected = sorted(
        (o.item["order_time"], o.order_id) for o in orders if o.item["order_hour"] == window.hour
    )
    assert sorted(found) == expected
    assert staged.orders_in == len(expected) not in (0, len(orders))


def _resource_table(stack: PipelineStack, name: str) -> Any:
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=stack.aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(name)


@dataclass
class StreamRun:
    run_id: str
    payload: dict[str, Any]
    orders: list[SampleOrder]
    late: SampleOrder
    states: dict[str, str]


@pytest.fixture(scope="module")
def stream_run(order_stack: PipelineStack) -> StreamRun:
    """An order written after the watcher's checkpoint; the run its event starts, task by task."""
    orders = seed_orders(order_stack, STREAM_HOUR.start, 30, seed=201, invalid_share=0.1)
    (late,) = generate_orders(1, start=STREAM_HOUR.start, invalid_share=0, seed=202)
    ((_, asset),) = shipped_dag(ORDER_DAG).timetable.asset_condition.iter_assets()
    (watcher,) = asset.watchers
    # The DAG's own DynamoDBStreamTrigger, inflated from its serialized form as the triggerer does.
    trigger = import_string(watcher.trigger["classpath"])(**watcher.trigger["kwargs"])

    async def watch() -> dict[str, Any]:
        store = JsonStateStore()
        events, pending = await start(trigger, store)
        write_orders(_resource_table(order_stack, "orders"), [late])
        event = await asyncio.wait_for(pending, HANG_GUARD_S)
        await stop(events, store)
        return event.payload

    payload = asyncio.run(watch())
    run_id = create_asset_triggered_run(asset, payload)
    for task_id in TASKS:
        airflow_in_process("tasks", "test", ORDER_DAG, task_id, run_id)
    return StreamRun(run_id, payload, orders, late, task_states(ORDER_DAG, run_id))


def create_asset_triggered_run(asset: Any, payload: dict[str, Any]) -> str:
    """Register the watcher's event as the triggerer does and create the run as the scheduler does."""
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

    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=REPO / "dags", bundle_path=Path(REPO / "dags"), bundle_name="dags-folder")
    sync_bag_to_db(bag, "dags-folder", None)
    now = timezone.utcnow()
    with create_session() as session:
        event = AssetManager.register_asset_change(
            asset=session.scalar(select(AssetModel).where(AssetModel.name == asset.name)),
            extra={"from_trigger": True, "payload": payload},
            session=session,
        )
        run = SerializedDagModel.get_dag(ORDER_DAG, session=session).create_dagrun(
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


def test_an_order_written_after_the_watchers_checkpoint_starts_a_run_for_its_hour(
    stream_run: StreamRun,
) -> None:
    everything = [*stream_run.orders, stream_run.late]

    assert [record["keys"]["order_id"] for record in stream_run.payload["records"]] == [
        stream_run.late.order_id
    ]
    assert stream_run.payload["records"][0]["image"] == {"order_hour": STREAM_HOUR.hour}
    assert xcom(ORDER_DAG, stream_run.run_id, "extract_orders")["windows"] == [STREAM_HOUR.to_dict()]
    recorded = hour_rows("orders", STREAM_HOUR) + hour_rows("order_rejects", STREAM_HOUR)
    assert sorted(row["order_id"] for row in recorded) == sorted(order.order_id for order in everything)
    assert {row["run_id"] for row in recorded} == {stream_run.run_id}


def test_every_task_of_the_dag_runs_under_airflow_tasks_test(stream_run: StreamRun) -> None:
    assert stream_run.states == dict.fromkeys(TASKS, "success")
    assert xcom(ORDER_DAG, stream_run.run_id, "transform_orders")["status"] == "succeeded"
    assert xcom(ORDER_DAG, stream_run.run_id, "record_orders")["orders_in"] == 31
    assert xcom(ORDER_DAG, stream_run.run_id, "notify_summary")["sent"] is True
    assert xcom(ORDER_DAG, stream_run.run_id, "alert_message") == {}  # 10% rejects: no alert
    assert xcom(ORDER_DAG, stream_run.run_id, "notify_alert")["sent"] is False


def test_the_transform_map_is_given_references_to_staged_parts_never_the_orders_themselves(
    hour_run: HourRun, order_stack: PipelineStack
) -> None:
    s3 = order_stack.client("s3")
    summary = xcom(ORDER_DAG, hour_run.run.run_id, "transform_orders")
    location = RunLocation.from_results_uri(summary["results_uri"])
    batches = s3.get_object(Bucket=location.bucket, Key=location.input_key)["Body"].read().splitlines()
    items = [item for batch in batches for item in json.loads(batch)["items"]]
    assert items and all(set(item) == {"bucket", "key", "output_key"} for item in items), items[:2]
    staged = read_manifest(s3, xcom(ORDER_DAG, hour_run.run.run_id, "extract_orders")["manifest_uri"])
    assert sum(part.orders for part in staged[HOUR]) == len(hour_run.orders)
    assert [item["key"] for item in items] == [part.key for parts in staged.values() for part in parts]


def test_a_shard_bigger_than_a_part_is_staged_in_several_parts_each_order_once(
    hour_run: HourRun, order_stack: PipelineStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_staging, "PART_ORDERS", 7)
    s3 = order_stack.client("s3")
    staged = _stage(order_stack, HOUR, "parts-of-7")

    parts = read_manifest(s3, staged.manifest_uri)[HOUR]
    orders = [
        [order["order_id"] for order in read_part_orders(s3, settings.PIPELINE_BUCKET, part.key)]
        for part in parts
    ]
    assert len(parts) > 8 and all(0 < len(ids) <= 7 for ids in orders)  # 8 shards, ~30 orders each
    assert [part.orders for part in parts] == [len(ids) for ids in orders]
    found = [order_id for ids in orders for order_id in ids]
    assert sorted(found) == sorted(order.order_id for order in hour_run.orders)


ACCOUNTING_HOUR = Window(datetime(2025, 6, 1, 3, tzinfo=UTC))


@dataclass(frozen=True)
class AnsweredHour:
    """An hour of 40 orders staged, each part answered by order_transform:live; nothing committed."""

    staged: StagedExtract
    orders: list[SampleOrder]
    answers: PartAnswers


@pytest.fixture(scope="module")
def answered_hour(order_stack: PipelineStack) -> AnsweredHour:
    orders = seed_orders(order_stack, ACCOUNTING_HOUR.start, 40, seed=401)
    staged = _stage(order_stack)
    parts = read_manifest(order_stack.client("s3"), staged.manifest_uri)[ACCOUNTING_HOUR]
    return AnsweredHour(staged, orders, _answered(order_stack, parts))


def _answered(stack: PipelineStack, parts: list[StagedPart]) -> PartAnswers:
    """``order_transform:live`` answers each part, as the transform map would."""
    function = stack.client("lambda")
    for part in parts:
        event = {
            "parts": [{"bucket": settings.PIPELINE_BUCKET, "key": part.key, "output_key": part.output_key}]
        }
        answer = function.invoke(FunctionName="order_transform", Qualifier="live", Payload=json.dumps(event))
        assert "FunctionError" not in answer, answer["Payload"].read()
    return PartAnswers(frozenset(part.output_key for part in parts))


def _stage(stack: PipelineStack, window: Window = ACCOUNTING_HOUR, name: str = "accounting") -> StagedExtract:
    """The extract of ``window``'s orders under the extract prefix's ``name`` folder."""
    return stage_orders(
        stack.client("dynamodb"),
        stack.client("s3"),
        settings.ORDERS_TABLE,
        [window],
        settings.PIPELINE_BUCKET,
        f"{settings.EXTRACT_PREFIX}{name}",
    )


def _facts(
    stack: PipelineStack, staged: StagedExtract | dict[Window, list[StagedPart]], answers: PartAnswers
) -> tuple[Counter[str], RunTally]:
    """The accounting of ``record_orders`` on its own: rows counted per table, nothing committed."""
    s3, rows = stack.client("s3"), Counter[str]()
    tally = read_facts(
        s3,
        settings.PIPELINE_BUCKET,
        read_manifest(s3, staged.manifest_uri) if isinstance(staged, StagedExtract) else staged,
        answers,
        {"dag_id": ORDER_DAG, "run_id": "accounting"},
        datetime.now(UTC),
        add_rows=lambda table, window, found: rows.update({table: len(found)}),
    )
    return rows, tally


def test_answered_parts_add_up_to_the_staged_orders(
    answered_hour: AnsweredHour, order_stack: PipelineStack
) -> None:
    rows, tally = _facts(order_stack, answered_hour.staged, answered_hour.answers)
    assert tally.valid + tally.rejected == answered_hour.staged.orders_in == len(answered_hour.orders)
    assert (rows["orders"], rows["order_rejects"]) == (tally.valid, tally.rejected)
    assert tally.rejected and tally.valid  # the seed has both


def test_an_answer_that_drops_an_order_fails_the_accounting_naming_the_order(
    answered_hour: AnsweredHour, order_stack: PipelineStack
) -> None:
    s3, bucket = order_stack.client("s3"), settings.PIPELINE_BUCKET
    part = read_manifest(s3, answered_hour.staged.manifest_uri)[ACCOUNTING_HOUR][0]
    original = s3.get_object(Bucket=bucket, Key=part.output_key)["Body"].read()
    answer = json.loads(original)
    dropped = (answer["valid"] or answer["rejects"]).pop(0)["order_id"]
    s3.put_object(Bucket=bucket, Key=part.output_key, Body=json.dumps(answer).encode())
    try:
        with pytest.raises(OrderAccountingError, match=rf"missing 1 \['{dropped}'\], duplicated 0"):
            _facts(order_stack, answered_hour.staged, answered_hour.answers)
    finally:
        s3.put_object(Bucket=bucket, Key=part.output_key, Body=original)


def test_an_answer_to_a_part_staged_before_its_orders_changed_is_not_taken_for_the_new_part(
    answered_hour: AnsweredHour, order_stack: PipelineStack
) -> None:
    late = seed_orders(order_stack, ACCOUNTING_HOUR.start, 1, seed=402)
    after = _stage(order_stack)  # a retried extract: the same prefix, one order more

    s3 = order_stack.client("s3")
    parts = read_manifest(s3, after.manifest_uri)[ACCOUNTING_HOUR]
    changed = [part for part in parts if part.output_key not in answered_hour.answers.output_keys]
    assert len(changed) == 1, changed  # the late order's shard
    staged_ids = [
        order["order_id"] for order in read_part_orders(s3, settings.PIPELINE_BUCKET, changed[0].key)
    ]
    assert late[0].order_id in staged_ids
    with pytest.raises(OrderAccountingError, match=rf"missing {changed[0].orders} \["):
        _facts(order_stack, after, answered_hour.answers)


MOVED_FROM, MOVED_TO = (Window(datetime(2025, 6, 1, hour, tzinfo=UTC)) for hour in (5, 6))


def test_an_order_staged_in_two_hours_of_one_run_fails_the_accounting_naming_it(
    order_stack: PipelineStack,
) -> None:
    """An order whose time the order service moved to the run's next hour while the run extracted its
    hours is staged in a part of each. Each part adds up on its own; the run would commit the order
    twice. (Two extracts stand for the two hours' reads, so the move falls between them.)"""
    [moved, *_] = seed_orders(order_stack, MOVED_FROM.start, 6, seed=403, invalid_share=0.0)
    order_id = moved.item["order_id"]
    s3 = order_stack.client("s3")
    first = _stage(order_stack, MOVED_FROM, "moved-from")
    moved_at = MOVED_TO.start + timedelta(minutes=5)
    order_stack.client("dynamodb").update_item(
        TableName=settings.ORDERS_TABLE,
        Key={"order_id": {"S": order_id}},
        UpdateExpression="SET order_time = :time, order_bucket = :bucket",
        ExpressionAttributeValues={
            ":time": {"S": steps.order_time(moved_at)},
            ":bucket": {"S": steps.order_bucket(order_id, moved_at)},
        },
    )
    second = _stage(order_stack, MOVED_TO, "moved-to")
    staged = {**read_manifest(s3, first.manifest_uri), **read_manifest(s3, second.manifest_uri)}
    answers = _answered(order_stack, [part for parts in staged.values() for part in parts])

    with pytest.raises(
        OrderAccountingError, match=rf"missing 0 \[\], duplicated 1 \['{re.escape(order_id)}'\]"
    ):
        _facts(order_stack, staged, answers)


def test_a_staged_part_without_an_output_key_is_refused_naming_the_part(order_stack: PipelineStack) -> None:
    event = {
        "parts": [
            {"bucket": settings.PIPELINE_BUCKET, "key": f"{settings.EXTRACT_PREFIX}accounting/items/x.jsonl"}
        ]
    }
    answer = order_stack.client("lambda").invoke(
        FunctionName="order_transform", Qualifier="live", Payload=json.dumps(event)
    )
    error = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") == "Unhandled"
    assert error["errorMessage"].startswith("parts[0] must name bucket, key and output_key"), error
