"""Watch a DynamoDB table's stream from a stored checkpoint: an ``AssetWatcher`` trigger.

``DynamoDBStreamTrigger`` polls every shard of the table's stream and yields one event per sweep that
found records (at most ``max_records_per_event``): KB-sized summaries (keys and the ``attributes`` you
name from the new image), never whole items. Usage::

    Asset(name="orders_stream", watchers=[AssetWatcher(name="orders_stream",
          trigger=DynamoDBStreamTrigger(table_name="orders", attributes=["order_hour"]))])

Checkpoint (``asset_state_store``, one key per table/connection/region): the last sequence number
delivered per shard, the shards read to their end, and the stream it belongs to. It is saved right
after an event is handed to the triggerer, so a restarted triggerer resumes each shard with
``AFTER_SEQUENCE_NUMBER`` and delivers nothing twice; a crash in between can re-deliver one sweep
(consumers must be idempotent) and an event the triggerer had not yet stored can be lost, which is
why the pipelines keep a scheduled run as the completeness backstop.

Shards: DynamoDB closes shards every few hours and splits them under load. A closed shard is read to
its end, then its children are read from ``TRIM_HORIZON``; a child is never read before its parent is
finished (per-item order). Shards are rediscovered whenever one closes and every
``shard_refresh_interval`` seconds. ``initial_position`` applies to the first start only:
``TRIM_HORIZON`` replays what the stream retains (24 h), ``LATEST`` starts now and records the start
time, so a shard that delivered nothing before a restart is re-read from its horizon with the records
older than that start skipped (no loss, no replay).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from lambdapipe.events.dynamodb_stream import (
    CHECKPOINT_KEY_PREFIX,
    INITIAL_POSITIONS,
    StreamCheckpoint,
    StreamReader,
    is_transient,
)
from lambdapipe.triggers.base import AwsConnectionTrigger


class DynamoDBStreamTrigger(AwsConnectionTrigger, BaseEventTrigger):
    """Yield ``{"table_name", "stream_arn", "count", "records": [...]}`` for new stream records.

    Each record: ``event_name``, ``shard_id``, ``sequence_number``, ``created_at`` (ISO 8601),
    ``keys`` and ``image`` (the ``attributes`` of the new image), plus ``old_image`` (the same
    attributes of the old image) when the stream carries old images (``NEW_AND_OLD_IMAGES``: a
    removed or changed item's former place), as plain JSON (numbers: int when whole, else exact
    decimal strings).

    :param table_name: The table whose (latest) stream to read.
    :param attributes: Image attributes to include in each record (none: keys only).
    :param event_names: Stream event types to report (others are read past silently).
    :param initial_position: ``TRIM_HORIZON`` or ``LATEST``, for the first start only.
    :param poll_interval: Seconds between sweeps over all shards.
    :param max_records_per_event: Records per event at most (the rest follow in the next event).
    :param shard_refresh_interval: Seconds between shard rediscoveries (also done when a shard ends).
    """

    fields = (
        "table_name",
        "attributes",
        "event_names",
        "initial_position",
        "poll_interval",
        "max_records_per_event",
        "shard_refresh_interval",
    )

    def __init__(
        self,
        table_name: str,
        *,
        attributes: list[str] | None = None,
        event_names: list[str] | None = None,
        initial_position: str = "TRIM_HORIZON",
        poll_interval: float = 5.0,
        max_records_per_event: int = 100,
        shard_refresh_interval: float = 60.0,
        **connection: Any,
    ) -> None:
        super().__init__(**connection)
        if initial_position not in INITIAL_POSITIONS:
            raise ValueError(f"initial_position must be one of {INITIAL_POSITIONS}, not {initial_position!r}")
        if not 1 <= max_records_per_event <= 10_000:
            raise ValueError(f"max_records_per_event must be 1-10000, not {max_records_per_event}")
        if poll_interval <= 0 or shard_refresh_interval <= 0:
            raise ValueError("poll_interval and shard_refresh_interval must be positive")
        self.table_name = table_name
        self.attributes = list(attributes or [])
        self.event_names = list(event_names or ["INSERT", "MODIFY"])
        self.initial_position = initial_position
        self.poll_interval = poll_interval
        self.max_records_per_event = max_records_per_event
        self.shard_refresh_interval = shard_refresh_interval
        self._in_memory_checkpoint: dict[str, Any] | None = None
        self._store_warning_logged = False

    @property
    def checkpoint_key(self) -> str:
        identity = json.dumps([self.table_name, self.aws_conn_id, self.region_name]).encode()
        return f"{CHECKPOINT_KEY_PREFIX}:{self.table_name}:{hashlib.sha256(identity).hexdigest()[:16]}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with (
            await self.hook("dynamodb").get_async_conn() as dynamodb,
            await self.hook("dynamodbstreams").get_async_conn() as streams,
        ):
            reader = StreamReader(self, dynamodb, streams, await self._load_checkpoint())
            while True:
                try:
                    records = await reader.sweep()
                except Exception as error:
                    if not is_transient(error):
                        raise
                    self.log.warning("Reading the stream of %s failed, retrying: %s", self.table_name, error)
                    records = []
                if records:
                    yield TriggerEvent(
                        {
                            "table_name": self.table_name,
                            "stream_arn": reader.checkpoint.stream_arn,
                            "count": len(records),
                            "records": records,
                        }
                    )
                if reader.dirty:
                    await self._save_checkpoint(reader.checkpoint)
                    reader.dirty = False
                if not reader.full:
                    await asyncio.sleep(self.poll_interval)

    async def _load_checkpoint(self) -> StreamCheckpoint | None:
        store = self._store()
        if store is None:
            data = self._in_memory_checkpoint
        else:
            try:
                data = await store.aget(self.checkpoint_key, default=None)
            except ValueError:  # the trigger watches several assets: no single store to use
                self._warn_no_store("it watches more than one asset")
                data = self._in_memory_checkpoint
        return StreamCheckpoint.from_json(data) if data else None

    async def _save_checkpoint(self, checkpoint: StreamCheckpoint) -> None:
        value = checkpoint.to_json()
        store = self._store()
        if store is not None:
            try:
                await store.aset(self.checkpoint_key, value)
                return
            except ValueError:
                self._warn_no_store("it watches more than one asset")
        self._in_memory_checkpoint = value

    def _store(self) -> Any:
        store = getattr(self, "asset_state_store", None)
        if store is None:
            self._warn_no_store("no asset state store was provided (not run as an AssetWatcher)")
        return store

    def _warn_no_store(self, why: str) -> None:
        if not self._store_warning_logged:
            self.log.warning("Stream checkpoint kept in memory only, %s: a restart starts over", why)
            self._store_warning_logged = True
