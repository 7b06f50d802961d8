"""Reading a DynamoDB table's stream from a checkpoint: shards, their order, and what was delivered.

The library under ``DynamoDBStreamTrigger``: a closed shard is read to its end before its children,
the checkpoint keeps the last sequence number delivered per shard (and the shards finished), and a
``LATEST`` start records its time so a shard re-read from its horizon skips what came before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lambdapipe.events.dynamodb_json import plain_item

CHECKPOINT_KEY_PREFIX = "dynamodb_stream"
INITIAL_POSITIONS = ("TRIM_HORIZON", "LATEST")
GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' maximum per call
# ApproximateCreationDateTime is rounded to the second: skip only what is clearly older than the start.
CREATION_TIME_SLACK = timedelta(seconds=1)
TRANSIENT_ERROR_CODES = frozenset(
    {"LimitExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"}
)


def is_transient(error: Exception) -> bool:
    """Throttling, a 5xx or a lost connection: worth retrying, unlike a missing table or stream."""

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.response.get("Error", {}).get("Code") in TRANSIENT_ERROR_CODES or status >= 500
    return isinstance(error, BotoCoreError | OSError | asyncio.TimeoutError)


class StreamNotEnabledError(RuntimeError):
    """The table has no stream (enable StreamSpecification with NEW_IMAGE or NEW_AND_OLD_IMAGES)."""


@dataclass
class StreamCheckpoint:
    """Where reading stands: ``positions`` maps each known shard to the last sequence number delivered
    (None: known, nothing delivered yet); ``finished`` lists shards read to their end."""

    stream_arn: str | None = None
    positions: dict[str, str | None] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    started_at: str | None = None  # set when the first start was at LATEST

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_arn": self.stream_arn,
            "positions": dict(self.positions),
            "finished": sorted(self.finished),
            "started_at": self.started_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> StreamCheckpoint:
        if not isinstance(data, dict):
            return cls()
        return cls(
            stream_arn=data.get("stream_arn"),
            positions=dict(data.get("positions") or {}),
            finished=list(data.get("finished") or []),
            started_at=data.get("started_at"),
        )

    def forget_trimmed(self, shard_ids: Iterable[str]) -> None:
        """Drop shards the stream no longer lists (trimmed after 24 h), so the checkpoint stays small."""
        live = set(shard_ids)
        self.positions = {shard: seq for shard, seq in self.positions.items() if shard in live}
        self.finished = [shard for shard in self.finished if shard in live]


@dataclass(frozen=True)
class ShardStart:
    """How to open one shard: an iterator type, the sequence number it needs, and records to skip."""

    iterator_type: str
    sequence_number: str | None = None
    not_before: datetime | None = None


def plan_shards(
    shards: list[dict[str, Any]],
    checkpoint: StreamCheckpoint,
    reading: Iterable[str],
    fresh: bool,
    initial: str,
) -> tuple[dict[str, ShardStart], list[str]]:
    """Which shards to open now and how, and which to mark finished without reading.

    ``shards`` is ``DescribeStream``'s list, ``reading`` the shards already open. ``fresh`` means no
    checkpoint existed for this stream (the first start): ``initial`` then decides; later-found shards
    (children of a split or a rollover) are read from ``TRIM_HORIZON``. A shard whose parent is still
    listed and not finished waits.
    """
    listed = {shard["ShardId"] for shard in shards}
    skipped = []
    if fresh and initial == "LATEST":  # shards closed before we started are history
        skipped = [
            shard["ShardId"]
            for shard in shards
            if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            and shard["ShardId"] not in checkpoint.positions
        ]
    finished = {*checkpoint.finished, *skipped}
    starts: dict[str, ShardStart] = {}
    for shard in shards:
        shard_id = shard["ShardId"]
        if shard_id in finished or shard_id in reading:
            continue
        parent = shard.get("ParentShardId")
        if parent in listed and parent not in finished:
            continue  # read the parent to its end first
        if shard_id in checkpoint.positions:
            starts[shard_id] = resume_start(checkpoint, shard_id)
        elif fresh and initial == "LATEST":
            starts[shard_id] = ShardStart("LATEST")
        else:
            starts[shard_id] = ShardStart("TRIM_HORIZON")
    return starts, skipped


def resume_start(checkpoint: StreamCheckpoint, shard_id: str) -> ShardStart:
    """Reopen a known shard: after its last delivered record, or (nothing delivered yet) from its
    horizon, skipping records older than a ``LATEST`` first start."""
    sequence = checkpoint.positions.get(shard_id)
    if sequence:
        return ShardStart("AFTER_SEQUENCE_NUMBER", sequence)
    started = checkpoint.started_at
    return ShardStart(
        "TRIM_HORIZON", not_before=datetime.fromisoformat(started) - CREATION_TIME_SLACK if started else None
    )


class StreamOptions(Protocol):
    """What a reader needs to know of its watcher (``DynamoDBStreamTrigger`` is one)."""

    table_name: str
    attributes: list[str]
    event_names: list[str]
    initial_position: str
    max_records_per_event: int
    shard_refresh_interval: float
    log: logging.Logger


class StreamReader:
    """The reading state of one trigger run: open shard iterators and the checkpoint they advance."""

    def __init__(
        self, options: StreamOptions, dynamodb: Any, streams: Any, checkpoint: StreamCheckpoint | None
    ) -> None:
        self.options = options
        self.dynamodb = dynamodb
        self.streams = streams
        self.fresh = checkpoint is None
        self.checkpoint = checkpoint or StreamCheckpoint()
        self.iterators: dict[str, str] = {}
        self.skip_before: dict[str, datetime] = {}
        self.refresh_due = 0.0
        self.dirty = False
        self.full = False
        self.sweeps = 0

    async def sweep(self) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        if loop.time() >= self.refresh_due:
            await self.refresh()
            self.refresh_due = loop.time() + self.options.shard_refresh_interval
        records: list[dict[str, Any]] = []
        self.full = False
        shard_ids = list(self.iterators)
        first = self.sweeps % len(shard_ids) if shard_ids else 0
        self.sweeps += 1  # a different shard first each sweep: a busy shard cannot starve the others
        for shard_id in shard_ids[first:] + shard_ids[:first]:
            room = self.options.max_records_per_event - len(records)
            try:
                records.extend(await self._read(shard_id, room))
            except Exception as error:
                if not is_transient(error) or not records:
                    raise
                # Deliver what was read (positions are only advanced for it); the next sweep goes on.
                self.options.log.warning("Reading shard %s failed, retrying next sweep: %s", shard_id, error)
                break
            if len(records) >= self.options.max_records_per_event:
                self.full = True
                break
        return records

    async def refresh(self) -> None:
        """Find the table's stream and its shards; open the shards that are due."""
        table = (await self.dynamodb.describe_table(TableName=self.options.table_name))["Table"]
        stream_arn = table.get("LatestStreamArn")
        if not stream_arn or not table.get("StreamSpecification", {}).get("StreamEnabled", True):
            raise StreamNotEnabledError(
                f"DynamoDB table {self.options.table_name!r} has no stream: enable StreamSpecification "
                "(StreamViewType NEW_IMAGE or NEW_AND_OLD_IMAGES)"
            )
        if self.checkpoint.stream_arn not in (None, stream_arn):
            self.options.log.warning(
                "Table %s has a new stream (%s, was %s): reading it from TRIM_HORIZON",
                self.options.table_name,
                stream_arn,
                self.checkpoint.stream_arn,
            )
            self.checkpoint = StreamCheckpoint(stream_arn=stream_arn)
            self.iterators.clear()
            self.fresh = False
        self.checkpoint.stream_arn = stream_arn
        shards = await self._shards(stream_arn)
        self.checkpoint.forget_trimmed(shard["ShardId"] for shard in shards)
        if self.fresh and self.options.initial_position == "LATEST" and self.checkpoint.started_at is None:
            self.checkpoint.started_at = datetime.now(UTC).isoformat()
        starts, skipped = plan_shards(
            shards, self.checkpoint, self.iterators, self.fresh, self.options.initial_position
        )
        self.checkpoint.finished.extend(skipped)
        for shard_id, start in starts.items():
            await self._open(shard_id, start)
            self.checkpoint.positions.setdefault(shard_id, None)
        self.fresh = False
        self.dirty = True

    async def _shards(self, stream_arn: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": stream_arn}
        while True:
            description = (await self.streams.describe_stream(**request))["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    async def _open(self, shard_id: str, start: ShardStart) -> None:
        self.iterators[shard_id] = await self._iterator(shard_id, start)
        if start.not_before is not None:
            self.skip_before[shard_id] = start.not_before

    async def _iterator(self, shard_id: str, start: ShardStart) -> str:
        request: dict[str, Any] = {
            "StreamArn": self.checkpoint.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": start.iterator_type,
        }
        if start.sequence_number:
            request["SequenceNumber"] = start.sequence_number
        try:
            return (await self.streams.get_shard_iterator(**request))["ShardIterator"]
        except self.streams.exceptions.TrimmedDataAccessException:
            self.options.log.warning(
                "Shard %s was trimmed past the checkpoint (%s): records in between are gone; "
                "reading from TRIM_HORIZON",
                shard_id,
                start.sequence_number,
            )
            request.pop("SequenceNumber", None)
            request["ShardIteratorType"] = "TRIM_HORIZON"
            return (await self.streams.get_shard_iterator(**request))["ShardIterator"]

    async def _read(self, shard_id: str, room: int) -> list[dict[str, Any]]:
        try:
            response = await self.streams.get_records(
                ShardIterator=self.iterators[shard_id], Limit=min(room, GET_RECORDS_LIMIT)
            )
        except self.streams.exceptions.ExpiredIteratorException:
            await self._open(shard_id, resume_start(self.checkpoint, shard_id))
            return []
        raw = response.get("Records", [])
        if raw:
            self.checkpoint.positions[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
            self.dirty = True
        next_iterator = response.get("NextShardIterator")
        if next_iterator:
            self.iterators[shard_id] = next_iterator
        else:  # the shard is closed and read to its end: its children are due
            del self.iterators[shard_id]
            self.checkpoint.finished.append(shard_id)
            self.skip_before.pop(shard_id, None)
            self.refresh_due = 0.0
            self.dirty = True
        return [summary for record in raw if (summary := self._summary(shard_id, record)) is not None]

    def _summary(self, shard_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        if record.get("eventName") not in self.options.event_names:
            return None
        stream_record = record["dynamodb"]
        created = stream_record.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            created = created.astimezone(UTC)
            if shard_id in self.skip_before and created < self.skip_before[shard_id]:
                return None
        image = stream_record.get("NewImage", {})
        old_image = stream_record.get("OldImage", {})
        summary = {
            "event_name": record["eventName"],
            "shard_id": shard_id,
            "sequence_number": stream_record["SequenceNumber"],
            "created_at": created.isoformat() if isinstance(created, datetime) else None,
            "keys": plain_item(stream_record.get("Keys", {})),
            "image": plain_item({name: image[name] for name in self.options.attributes if name in image}),
        }
        if old_image:  # NEW_AND_OLD_IMAGES: where a changed or removed item was before
            summary["old_image"] = plain_item(
                {name: old_image[name] for name in self.options.attributes if name in old_image}
            )
        return summary
