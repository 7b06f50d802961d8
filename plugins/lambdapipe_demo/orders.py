"""The order pipeline's extraction (dags/order_analytics.py): which hours a run owns, and their orders.

The DynamoDB table ``orders`` (partition key ``order_id``) carries keys the order service stamps on
every order it stores, whatever the order's own fields say: ``order_hour`` (``2026-01-15T10``, UTC),
``order_time`` (``2026-01-15T10:23:45.123456Z``, fixed width, so text order is time order) and
``order_bucket`` (``2026-01-15T10#03``: the hour plus one of ``ORDER_BUCKETS`` shards, from a CRC32
of the order id). Why:

- The GSI ``by_order_hour`` (hash ``order_bucket``, range ``order_time``) makes one hour
  ``ORDER_BUCKETS`` Queries, read in parallel; sharding the hour keeps a busy hour's writes from
  piling onto one index partition (~1,000 writes/s each on DynamoDB). A table without the index is
  read with a parallel Scan (``Segment``/``TotalSegments``) filtered on ``order_time``.
- An order whose own ``created_at`` is missing or malformed still has these keys, so it is extracted
  and rejected (and counted), never silently skipped: every order belongs to exactly one hour.
- The unit of work and of replacement is the UTC hour (:class:`Window`): a scheduled run owns its
  data interval's hours, a stream-triggered run the hours of the orders it was told about, and each
  hour's rows are replaced as a whole, so overlapping runs never duplicate an order.

Extracted orders are staged in S3 in parts (``order_staging``), so task results stay small and no
task holds an hour's orders at once.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdapipe_demo.tables import ORDER_HOUR_KEY

ORDERS_INDEX = "by_order_hour"
ORDER_BUCKETS = 8  # changing it means rewriting every order's order_bucket
HOUR = timedelta(hours=1)
_LAST_MICROSECOND = timedelta(microseconds=1)


class OrderExtractError(ValueError):
    """The run's hours or the orders table cannot be read as the pipeline expects; says what and where."""


def order_hour(moment: datetime) -> str:
    """The ``order_hour`` key of a moment: its UTC hour, ``2026-01-15T10``."""
    return _utc(moment).strftime("%Y-%m-%dT%H")


def order_time(moment: datetime) -> str:
    """The ``order_time`` key of a moment: fixed-width UTC ISO 8601 with microseconds and ``Z``."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_bucket(order_id: str, moment: datetime) -> str:
    """The ``order_bucket`` key of an order: its UTC hour and a shard derived from its id."""
    return _bucket(order_hour(moment), zlib.crc32(order_id.encode()) % ORDER_BUCKETS)


def _bucket(hour: str, shard: int) -> str:
    return f"{hour}#{shard:02d}"


def orders_table_definition(table_name: str) -> dict[str, Any]:
    """``create_table`` arguments of the orders table the pipeline reads (and the stream it watches)."""
    return {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("order_id", "order_bucket", "order_time")
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": ORDERS_INDEX,
                "KeySchema": [
                    {"AttributeName": "order_bucket", "KeyType": "HASH"},
                    {"AttributeName": "order_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
        # Old images too: a removed order, or one whose hour changed, names the hour it leaves.
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


@dataclass(frozen=True, order=True)
class Window:
    """One UTC hour ``[start, start + 1 h)``: what a run extracts and what a commit replaces."""

    start: datetime

    def __post_init__(self) -> None:
        start = _utc(self.start)
        if start != start.replace(minute=0, second=0, microsecond=0):
            raise OrderExtractError(f"a window starts on the hour, not at {start.isoformat()}")
        object.__setattr__(self, "start", start)

    @classmethod
    def containing(cls, moment: datetime) -> Window:
        return cls(_utc(moment).replace(minute=0, second=0, microsecond=0))

    @classmethod
    def from_hour(cls, hour: str) -> Window:
        try:
            return cls(datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC))
        except ValueError:
            raise OrderExtractError(f"not an order_hour like 2026-01-15T10: {hour!r:.40}") from None

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @property
    def hour(self) -> str:
        return order_hour(self.start)

    def run_key(self, dag_id: str) -> dict[str, Any]:
        """The rows one commit replaces: this hour's, as written by ``dag_id`` (the fact tables'
        declared ``ORDER_HOUR_KEY``)."""
        return dict(zip(ORDER_HOUR_KEY, (dag_id, self.start, self.end), strict=True))

    def buckets(self) -> list[str]:
        """The hour's ``order_bucket`` values: one GSI partition each."""
        return [_bucket(self.hour, shard) for shard in range(ORDER_BUCKETS)]

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Window:
        return cls(datetime.fromisoformat(data["start"]))


def windows_between(start: datetime, end: datetime) -> list[Window]:
    """The hours overlapping ``[start, end)`` (a data interval); a partial hour is owned whole."""
    if not start < end:
        raise OrderExtractError(
            f"data interval [{start.isoformat()}, {end.isoformat()}) is empty: schedule the DAG with "
            "an interval (CronTriggerTimetable(..., interval=timedelta(hours=1)))"
        )
    windows = []
    current = Window.containing(start)
    while current.start < _utc(end):
        windows.append(current)
        current = Window(current.end)
    return windows


def windows_from_asset_events(asset_events: Iterable[Any]) -> tuple[list[Window], list[dict[str, Any]]]:
    """The hours named by stream events (``DynamoDBStreamTrigger`` payloads): each record's new
    ``order_hour`` and, for a removed or moved order, its old one, so the hour it left is rebuilt
    without it. Plus the keys of records naming no readable hour: orders stored without the
    service's keys, which no extraction can find (the GSI is sparse), to be reported."""
    hours: set[Window] = set()
    unstamped: list[dict[str, Any]] = []
    for asset_event in asset_events:
        payload = (getattr(asset_event, "extra", None) or {}).get("payload") or {}
        for record in payload.get("records", []):
            named = [
                hour
                for image in ("image", "old_image")
                if (hour := _window_or_none((record.get(image) or {}).get("order_hour")))
            ]
            hours.update(named)
            if not named:
                unstamped.append(record.get("keys") or {})
    return sorted(hours), unstamped


def _window_or_none(hour: Any) -> Window | None:
    try:
        return Window.from_hour(hour)
    except (OrderExtractError, TypeError):
        return None


def has_index(dynamodb: Any, table_name: str, index_name: str = ORDERS_INDEX) -> bool:
    """Whether the table has the GSI (else the extraction falls back to a parallel scan)."""
    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        raise OrderExtractError(f"DynamoDB table {table_name!r} does not exist") from None
    return any(index["IndexName"] == index_name for index in table.get("GlobalSecondaryIndexes", []))


def bucket_query(table_name: str, bucket: str) -> dict[str, Any]:
    """The ``Query`` parameters that read one hour-shard of orders through the index."""
    return {
        "TableName": table_name,
        "IndexName": ORDERS_INDEX,
        "KeyConditionExpression": "order_bucket = :bucket",
        "ExpressionAttributeValues": {":bucket": {"S": bucket}},
    }


def last_moment(window: Window) -> datetime:
    """The window's last microsecond: the high end of a ``BETWEEN`` on ``order_time``."""
    return window.end - _LAST_MICROSECOND


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise OrderExtractError(f"{moment.isoformat()} has no time zone: order times are UTC instants")
    utc = moment.astimezone(UTC)  # a plain datetime: pendulum's drop their zone in some arithmetic
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, UTC)
