"""``DynamoDBStreamTrigger`` reads the orders table's stream from its checkpoint, on the local stack.

The trigger's ``run()`` is driven as the triggerer drives it: an event is handed over, the generator
is resumed (that is when the checkpoint is saved), and a restart is a new instance reading the same
asset state store (``JsonStateStore``: the store's two calls, values kept as JSON text). moto has
one shard per stream that never closes, so resharding is checked on the shard planner directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from lambdapipe.events.dynamodb_stream import CREATION_TIME_SLACK, ShardStart, StreamCheckpoint, plan_shards
from lambdapipe.triggers.dynamodb import DynamoDBStreamTrigger
from lambdapipe_demo.orders import (
    order_hour,
    order_time,
    orders_table_definition,
    windows_from_asset_events,
)
from tests.e2e.pipelines.conftest import PipelineStack
from tests.e2e.pipelines.order_helpers import HANG_GUARD_S, JsonStateStore, start, stop

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def table(pipeline_stack: PipelineStack) -> str:
    """A new orders table (GSI and stream as the demo creates them) for this test alone."""
    name = f"orders-stream-{uuid.uuid4().hex[:8]}"
    pipeline_stack.client("dynamodb").create_table(**orders_table_definition(name))
    return name


def put_order(stack: PipelineStack, table: str, order_id: str) -> str:
    """Store a (minimal) order as the order service does; returns its ``order_hour``."""
    now = datetime.now(UTC)
    stack.client("dynamodb").put_item(
        TableName=table,
        Item={
            "order_id": {"S": order_id},
            "order_hour": {"S": order_hour(now)},
            "order_time": {"S": order_time(now)},
            "status": {"S": "paid"},
        },
    )
    return order_hour(now)


def watcher(table: str, **options: Any) -> DynamoDBStreamTrigger:
    return DynamoDBStreamTrigger(
        table_name=table,
        attributes=["order_hour"],
        poll_interval=0.1,
        aws_conn_id="aws_default",
        region_name="us-east-1",
        **options,
    )


def order_ids(payload: dict[str, Any]) -> list[str]:
    return [record["keys"]["order_id"] for record in payload["records"]]


def test_an_order_written_after_the_checkpoint_is_delivered_with_its_hour(
    pipeline_stack: PipelineStack, table: str
) -> None:
    put_order(pipeline_stack, table, "before-start")  # LATEST: history, not delivered
    trigger = watcher(table, initial_position="LATEST")
    store = JsonStateStore()

    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        events, pending = await start(trigger, store)
        hour = put_order(pipeline_stack, table, "new-1")
        event = await asyncio.wait_for(pending, HANG_GUARD_S)
        return hour, event.payload, await stop(events, store)

    hour, payload, checkpoint = asyncio.run(scenario())

    assert order_ids(payload) == ["new-1"]
    (record,) = payload["records"]
    assert (record["event_name"], record["image"]) == ("INSERT", {"order_hour": hour})
    assert (payload["table_name"], payload["count"]) == (table, 1)
    assert checkpoint["positions"] == {record["shard_id"]: record["sequence_number"]}
    assert checkpoint["stream_arn"] == payload["stream_arn"]


def test_a_restarted_trigger_resumes_from_the_checkpoint_without_loss_or_duplicates(
    pipeline_stack: PipelineStack, table: str
) -> None:
    store = JsonStateStore()

    async def first_life() -> list[str]:
        events, pending = await start(watcher(table, initial_position="LATEST"), store)
        put_order(pipeline_stack, table, "delivered-1")
        event = await asyncio.wait_for(pending, HANG_GUARD_S)
        await stop(events, store)
        return order_ids(event.payload)

    async def second_life() -> list[list[str]]:
        restarted = watcher(table, initial_position="LATEST")  # a new instance, as after a restart
        restarted.asset_state_store = JsonStateStore(store.values)
        events = restarted.run()
        first = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        put_order(pipeline_stack, table, "after-restart")
        second = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        await events.aclose()
        return [order_ids(first.payload), order_ids(second.payload)]

    delivered_first = asyncio.run(first_life())
    for order_id in ("while-down-1", "while-down-2"):  # no trigger running
        put_order(pipeline_stack, table, order_id)
    delivered_after = asyncio.run(second_life())

    assert delivered_first == ["delivered-1"]
    assert delivered_after == [["while-down-1", "while-down-2"], ["after-restart"]]


def test_a_trigger_stopped_before_delivering_anything_loses_nothing_and_replays_nothing(
    pipeline_stack: PipelineStack, table: str
) -> None:
    """First start at LATEST, stopped before any record: no sequence number to resume after yet."""
    put_order(pipeline_stack, table, "history")
    time.sleep(CREATION_TIME_SLACK.total_seconds() + 0.2)  # the history is clearly older than the start
    store = JsonStateStore()

    async def first_life() -> dict[str, Any]:
        _, pending = await start(watcher(table, initial_position="LATEST"), store)
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
        return json.loads(next(iter(store.values.values())))

    async def second_life() -> list[str]:
        restarted = watcher(table, initial_position="LATEST")
        restarted.asset_state_store = JsonStateStore(store.values)
        events = restarted.run()
        event = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        await events.aclose()
        return order_ids(event.payload)

    checkpoint = asyncio.run(first_life())
    put_order(pipeline_stack, table, "while-down")

    assert set(checkpoint["positions"].values()) == {None}
    assert checkpoint["started_at"] is not None
    assert asyncio.run(second_life()) == ["while-down"]


def test_removals_are_read_past_but_not_reported(pipeline_stack: PipelineStack, table: str) -> None:
    dynamodb = pipeline_stack.client("dynamodb")
    put_order(pipeline_stack, table, "kept")
    put_order(pipeline_stack, table, "removed")
    dynamodb.delete_item(TableName=table, Key={"order_id": {"S": "removed"}})
    store = JsonStateStore()

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        trigger = watcher(table)  # TRIM_HORIZON: everything the stream retains
        trigger.asset_state_store = store
        events = trigger.run()
        event = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        return event.payload, await stop(events, store)

    payload, checkpoint = asyncio.run(scenario())

    assert order_ids(payload) == ["kept", "removed"]  # the two INSERTs; the REMOVE is not reported
    assert [record["event_name"] for record in payload["records"]] == ["INSERT", "INSERT"]
    (position,) = checkpoint["positions"].values()
    assert int(position) > int(payload["records"][-1]["sequence_number"])  # read past the REMOVE


def test_a_removed_order_and_a_moved_one_name_the_hours_they_left_and_unstamped_ones_are_named(
    pipeline_stack: PipelineStack, table: str
) -> None:
    dynamodb = pipeline_stack.client("dynamodb")

    def store(order_id: str, hour: str | None) -> None:
        item = {"order_id": {"S": order_id}, "status": {"S": "paid"}}
        if hour:
            item["order_hour"] = {"S": hour}
        dynamodb.put_item(TableName=table, Item=item)

    store("moved", "2026-01-15T10")
    store("removed", "2026-01-15T11")
    store("moved", "2026-01-15T12")  # the order service re-stamped it: it leaves 10:00
    dynamodb.delete_item(TableName=table, Key={"order_id": {"S": "removed"}})
    store("unstamped", None)
    trigger = watcher(table, event_names=["INSERT", "MODIFY", "REMOVE"])
    state = JsonStateStore()

    async def scenario() -> dict[str, Any]:
        trigger.asset_state_store = state
        events = trigger.run()
        event = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        await stop(events, state)
        return event.payload

    payload = asyncio.run(scenario())
    windows, unstamped = windows_from_asset_events([SimpleNamespace(extra={"payload": payload})])

    assert [record["event_name"] for record in payload["records"]] == [
        "INSERT",
        "INSERT",
        "MODIFY",
        "REMOVE",
        "INSERT",
    ]
    assert payload["records"][3]["old_image"] == {"order_hour": "2026-01-15T11"}
    assert [window.hour for window in windows] == ["2026-01-15T10", "2026-01-15T11", "2026-01-15T12"]
    assert unstamped == [{"order_id": "unstamped"}]


def test_a_stream_that_splits_is_read_parent_first_then_children_from_their_horizon() -> None:
    shards = [
        {
            "ShardId": "parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "90"},
        },
        {
            "ShardId": "child-a",
            "ParentShardId": "parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "91"},
        },
        {
            "ShardId": "child-b",
            "ParentShardId": "parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "95"},
        },
        {"ShardId": "other", "SequenceNumberRange": {"StartingSequenceNumber": "3"}},
    ]
    reading_parent = StreamCheckpoint("arn", positions={"parent": "50", "other": "7"})
    parent_done = StreamCheckpoint("arn", positions={"parent": "90", "other": "7"}, finished=["parent"])

    assert plan_shards(shards, reading_parent, reading=[], fresh=False, initial="LATEST") == (
        {
            "parent": ShardStart("AFTER_SEQUENCE_NUMBER", "50"),
            "other": ShardStart("AFTER_SEQUENCE_NUMBER", "7"),
        },
        [],
    )
    assert plan_shards(shards, parent_done, reading=["other"], fresh=False, initial="LATEST") == (
        {"child-a": ShardStart("TRIM_HORIZON"), "child-b": ShardStart("TRIM_HORIZON")},
        [],
    )


def test_a_first_start_at_latest_skips_closed_shards_and_starts_open_ones_now() -> None:
    shards = [
        {
            "ShardId": "old",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"},
        },
        {
            "ShardId": "current",
            "ParentShardId": "old",
            "SequenceNumberRange": {"StartingSequenceNumber": "10"},
        },
    ]

    starts, skipped = plan_shards(shards, StreamCheckpoint(), reading=[], fresh=True, initial="LATEST")

    assert (starts, skipped) == ({"current": ShardStart("LATEST")}, ["old"])


def test_shards_trimmed_from_the_stream_are_dropped_from_the_checkpoint() -> None:
    checkpoint = StreamCheckpoint(
        "arn", positions={"gone": "5", "live": "8"}, finished=["gone-too", "live-done"]
    )

    checkpoint.forget_trimmed(["live", "live-done"])

    assert (checkpoint.positions, checkpoint.finished) == ({"live": "8"}, ["live-done"])


def test_failing_stream_reads_are_retried_without_losing_or_repeating_records(
    pipeline_stack: PipelineStack, table: str
) -> None:
    from lambdapipe_local.admin.faults import FaultRule

    for order_id in ("first", "second"):
        put_order(pipeline_stack, table, order_id)
    faults = pipeline_stack.aws.faults
    faults.add(FaultRule(service="dynamodbstreams", operation="GetRecords", error="internal_error", count=3))
    injected_before = pipeline_stack.aws.calls.snapshot().faults_injected.get("dynamodbstreams:GetRecords", 0)

    async def scenario() -> list[str]:
        trigger = watcher(table, botocore_config={"retries": {"max_attempts": 1}})  # errors reach the trigger
        trigger.asset_state_store = JsonStateStore()
        events = trigger.run()
        event = await asyncio.wait_for(anext(events), HANG_GUARD_S)
        await events.aclose()
        return order_ids(event.payload)

    try:
        delivered = asyncio.run(scenario())
    finally:
        faults.clear()

    assert delivered == ["first", "second"]
    injected = pipeline_stack.aws.calls.snapshot().faults_injected.get("dynamodbstreams:GetRecords", 0)
    assert injected - injected_before == 3
