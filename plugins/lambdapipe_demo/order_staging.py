"""An order run's hours staged in S3 in parts, read page by page: memory stays bounded by a part.

Nothing holds a whole hour. Each Query page (or Scan page) is appended to its shard's part, and a part
of ``PART_ORDERS`` orders (or ``PART_BYTES``) goes to S3 as soon as it is full. Layout under
``s3://bucket/prefix/``:

- ``items/<hour>-<shard>-<n>.jsonl``: the orders, JSON lines (one GSI shard, or one Scan segment, per
  part; ``order_time`` order within a shard);
- ``parts/index.jsonl``: one line per part, the transform map's items: ``{bucket, key, output_key}``
  (``order_transform`` reads the part and writes its answer to ``output_key``);
- ``manifest.json``: each hour's parts with their order count and a digest of their order ids, the
  accounting's reference (``order_facts``).

``output_key`` carries the part's content digest, so an output written for other content (an extract
retried after orders changed) is never taken for this part's. The index and manifest are rewritten
whole on every try: parts of an earlier try that this one did not write are not referenced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lambdapipe.events.dynamodb_json import item_pages
from lambdapipe_demo.orders import (
    Window,
    bucket_query,
    has_index,
    last_moment,
    order_time,
)

PART_ORDERS = 1000
PART_BYTES = 1_000_000  # order_transform's answer is ~2x its input; its 128 MB stay ample


def ids_digest(order_ids: Iterable[Any]) -> str:
    """The sha256 of a part's order ids in sorted order: equal for the same set, whatever the order."""
    return hashlib.sha256("\n".join(sorted(str(order_id) for order_id in order_ids)).encode()).hexdigest()


@dataclass(frozen=True)
class StagedPart:
    """One staged part: where its orders are, where the transform answers, and what it must answer for."""

    window: Window
    key: str
    output_key: str
    orders: int
    ids_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "output_key": self.output_key,
            "orders": self.orders,
            "ids_sha256": self.ids_sha256,
        }

    @classmethod
    def from_dict(cls, window: Window, data: dict[str, Any]) -> StagedPart:
        return cls(window, data["key"], data["output_key"], data["orders"], data["ids_sha256"])


@dataclass(frozen=True)
class StagedExtract:
    """Where a run's extracted orders are: ``items_uri`` (the parts index, the transform's items) and
    the manifest (each hour's parts, the accounting's reference)."""

    items_uri: str
    manifest_uri: str
    orders_in: int
    windows: list[Window]

    def to_dict(self) -> dict[str, Any]:
        return {
            "items_uri": self.items_uri,
            "manifest_uri": self.manifest_uri,
            "orders_in": self.orders_in,
            "windows": [window.to_dict() for window in self.windows],
        }


@dataclass
class _PartWriter:
    """Appends orders of one hour and source (shard or segment) and puts each full part to S3."""

    put: Callable[[str, bytes], None]
    prefix: str
    window: Window
    source: str
    parts: list[StagedPart] = field(default_factory=list)
    _lines: list[bytes] = field(default_factory=list)
    _ids: list[Any] = field(default_factory=list)
    _bytes: int = 0

    def add(self, order: dict[str, Any]) -> None:
        line = json.dumps(order, separators=(",", ":")).encode()
        if self._lines and (len(self._lines) >= PART_ORDERS or self._bytes + len(line) > PART_BYTES):
            self.flush()
        self._lines.append(line)
        self._ids.append(order.get("order_id"))
        self._bytes += len(line) + 1

    def flush(self) -> None:
        if not self._lines:
            return
        body = b"\n".join(self._lines) + b"\n"
        name = f"{self.window.hour}-{self.source}-{len(self.parts) + 1:05d}"
        key = f"{self.prefix}/items/{name}.jsonl"
        content = hashlib.sha256(body).hexdigest()[:16]
        self.put(key, body)
        self.parts.append(
            StagedPart(
                self.window,
                key,
                f"{self.prefix}/output/{name}-{content}.json",
                len(self._lines),
                ids_digest(self._ids),
            )
        )
        self._lines, self._ids, self._bytes = [], [], 0


def stage_orders(
    dynamodb: Any,
    s3: Any,
    table_name: str,
    windows: list[Window],
    bucket: str,
    prefix: str,
    *,
    parallelism: int = 4,
) -> StagedExtract:
    """Read every order of ``windows`` and stage it under ``s3://bucket/prefix/`` (see the module doc).

    With the index: each hour's shards are queried, ``parallelism`` at once. Without: a parallel Scan
    with ``parallelism`` segments, filtered to the windows' time range.
    """

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")

    if not windows:
        writers: list[_PartWriter] = []
    elif has_index(dynamodb, table_name):
        tasks = [(window, shard) for window in windows for shard in window.buckets()]

        def query(task: tuple[Window, str]) -> list[_PartWriter]:
            window, shard = task
            writer = _PartWriter(put, prefix, window, shard.rpartition("#")[2])
            for page in item_pages(dynamodb, "Query", **bucket_query(table_name, shard)):
                for order in page:
                    writer.add(order)
            writer.flush()
            return [writer]

        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            writers = [writer for found in pool.map(query, tasks) for writer in found]
    else:
        writers = _scan(dynamodb, table_name, windows, parallelism, put, prefix)
    parts = sorted((part for writer in writers for part in writer.parts), key=lambda part: part.key)
    return _write_index_and_manifest(s3, bucket, prefix, windows, parts)


def _scan(
    dynamodb: Any,
    table_name: str,
    windows: list[Window],
    segments: int,
    put: Callable[[str, bytes], None],
    prefix: str,
) -> list[_PartWriter]:
    low, high = order_time(min(windows).start), order_time(last_moment(max(windows)))
    wanted = {window.hour: window for window in windows}

    def scan(segment: int) -> list[_PartWriter]:
        writers = {
            hour: _PartWriter(put, prefix, window, f"s{segment:02d}") for hour, window in wanted.items()
        }
        pages = item_pages(
            dynamodb,
            "Scan",
            TableName=table_name,
            Segment=segment,
            TotalSegments=segments,
            FilterExpression="order_time BETWEEN :low AND :high",
            ExpressionAttributeValues={":low": {"S": low}, ":high": {"S": high}},
        )
        for page in pages:
            for order in page:
                writer = writers.get(str(order.get("order_time", ""))[:13])
                if writer is not None:  # the range may span hours this run does not own
                    writer.add(order)
        for writer in writers.values():
            writer.flush()
        return list(writers.values())

    with ThreadPoolExecutor(max_workers=segments) as pool:
        return [writer for found in pool.map(scan, range(segments)) for writer in found]


def _write_index_and_manifest(
    s3: Any, bucket: str, prefix: str, windows: list[Window], parts: list[StagedPart]
) -> StagedExtract:
    index = b"".join(
        json.dumps({"bucket": bucket, "key": part.key, "output_key": part.output_key}).encode() + b"\n"
        for part in parts
    )
    index_key, manifest_key = f"{prefix}/parts/index.jsonl", f"{prefix}/manifest.json"
    s3.put_object(Bucket=bucket, Key=index_key, Body=index, ContentType="application/x-ndjson")
    manifest = {
        "windows": [
            {**window.to_dict(), "parts": [part.to_dict() for part in parts if part.window == window]}
            for window in sorted(windows)
        ]
    }
    s3.put_object(
        Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ContentType="application/json"
    )
    return StagedExtract(
        items_uri=f"s3://{bucket}/{prefix}/parts/",
        manifest_uri=f"s3://{bucket}/{manifest_key}",
        orders_in=sum(part.orders for part in parts),
        windows=sorted(windows),
    )


def read_manifest(s3: Any, manifest_uri: str) -> dict[Window, list[StagedPart]]:
    """Each window's staged parts, as written by :func:`stage_orders`."""
    bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    windows = ((Window.from_dict(entry), entry["parts"]) for entry in manifest["windows"])
    return {window: [StagedPart.from_dict(window, part) for part in parts] for window, parts in windows}


def read_part_orders(s3: Any, bucket: str, key: str) -> Iterator[dict[str, Any]]:
    """The orders of one staged part."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return (json.loads(line) for line in body.splitlines() if line.strip())
