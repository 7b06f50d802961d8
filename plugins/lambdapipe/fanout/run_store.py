"""Where a fan-out keeps its input and results in S3, so a retried task resumes instead of redoing.

Layout under ``s3://{bucket}/{prefix}/{dag_id}/{run_id}/{task_id}/{map_index}/``:

- ``input.jsonl``: one batch per line (written by the worker before the fan-out starts);
- ``results/try-{N}-{part}.jsonl``: one line per item (index, batch, status, result or error);
- ``metrics/try-{N}-{part}.jsonl``: one ``lambda_invocations`` record per invocation;
- ``summary.json``: the task's XCom, also kept next to the data.

Results are appended in parts while the fan-out runs, so a crash or a failed try loses at most the
results not yet written; the next try reads every part and skips the batches that already succeeded.
Parts are create-only: a second run of the same try (a restarted triggerer runs the trigger again with
the same try number) numbers its parts after the ones already there and never overwrites them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from lambdapipe.fanout.batching import Batch

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")
# What S3 answers a create-only put whose key exists (412) or is being written concurrently (409).
_TAKEN = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


@dataclass(frozen=True)
class RunLocation:
    """The S3 prefix of one task instance's fan-out."""

    bucket: str
    prefix: str

    @classmethod
    def for_task(
        cls, bucket: str, base_prefix: str, dag_id: str, run_id: str, task_id: str, map_index: int
    ) -> RunLocation:
        parts = [_UNSAFE.sub("_", part) for part in (dag_id, run_id, task_id, str(map_index))]
        return cls(bucket, "/".join([base_prefix.strip("/"), *parts]))

    @classmethod
    def from_results_uri(cls, results_uri: str) -> RunLocation:
        """The location whose ``results/`` folder ``results_uri`` (a map summary's) names."""
        bucket, _, key = results_uri.removeprefix("s3://").partition("/")
        return cls(bucket, key.rstrip("/").removesuffix("/results"))

    @property
    def results_prefix(self) -> str:
        return f"{self.prefix}/results/"

    @property
    def input_key(self) -> str:
        return f"{self.prefix}/input.jsonl"

    @property
    def summary_key(self) -> str:
        return f"{self.prefix}/summary.json"

    def parts_prefix(self, kind: str, try_number: int) -> str:
        return f"{self.prefix}/{kind}/try-{try_number:03d}-"

    def part_key(self, kind: str, try_number: int, part: int) -> str:
        return f"{self.parts_prefix(kind, try_number)}{part:05d}.jsonl"

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key or self.prefix + '/'}"


def encode_batches(batches: list[Batch]) -> bytes:
    return b"".join(json.dumps(batch.to_dict(), separators=(",", ":")).encode() + b"\n" for batch in batches)


def input_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def write_input(s3_client: Any, location: RunLocation, batches: list[Batch]) -> tuple[str, bool]:
    """Store the batches unless an identical input is already there (a retried try); returns (sha, reused)."""
    body = encode_batches(batches)
    digest = input_digest(body)
    try:
        existing = s3_client.head_object(Bucket=location.bucket, Key=location.input_key)
        if existing.get("Metadata", {}).get("sha256") == digest:
            return digest, True
    except s3_client.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3_client.put_object(
        Bucket=location.bucket,
        Key=location.input_key,
        Body=body,
        ContentType="application/x-ndjson",
        Metadata={"sha256": digest},
    )
    return digest, False


def decode_lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]


async def read_input(client: Any, location: RunLocation) -> tuple[list[Batch], str]:
    response = await client.get_object(Bucket=location.bucket, Key=location.input_key)
    async with response["Body"] as stream:
        body = await stream.read()
    return [Batch.from_dict(line) for line in decode_lines(body)], response.get("Metadata", {}).get(
        "sha256", ""
    )


async def read_results(client: Any, location: RunLocation, input_sha256: str) -> list[dict[str, Any]]:
    """Every item result of earlier tries for this same input (results of another input are ignored)."""
    results: list[dict[str, Any]] = []
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=location.bucket, Prefix=location.results_prefix):
        for obj in page.get("Contents", []):
            response = await client.get_object(Bucket=location.bucket, Key=obj["Key"])
            if response.get("Metadata", {}).get("input-sha256") != input_sha256:
                continue
            async with response["Body"] as stream:
                results.extend(decode_lines(await stream.read()))
    return results


def finished_batches(results: list[dict[str, Any]]) -> set[int]:
    """Batches whose latest outcome succeeded (``results`` in part order: a later try's outcome wins).

    Each outcome writes every line of its batch into one part, so the batch's last line says it.
    """
    latest = {line["batch"]: line.get("status") == "succeeded" for line in results}
    return {batch for batch, ok in latest.items() if ok}


async def last_part(client: Any, location: RunLocation, kind: str, try_number: int) -> int:
    """The highest part number already written for this try (0 if none): a new run continues after it."""
    prefix = location.parts_prefix(kind, try_number)
    highest = 0
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            number = obj["Key"].removeprefix(prefix).removesuffix(".jsonl")
            if number.isdigit():
                highest = max(highest, int(number))
    return highest


async def write_part(
    client: Any,
    location: RunLocation,
    kind: str,
    try_number: int,
    part: int,
    lines: list[dict[str, Any]],
    input_sha256: str,
    write_id: str,
) -> int:
    """Create the first free part at or after ``part`` and return its number; an existing part is never replaced.

    Another run of the same try (a trigger still running on a triggerer that lost its heartbeat) may
    have taken the number since this run looked: S3 refuses the create and the next number is tried.
    A refusal of this very write (an earlier send of the same lines with the same ``write_id``
    landed, but its response was lost or the caller was cancelled) is recognised by the write id in
    the part's metadata: the part is not written twice.
    """
    body = b"".join(json.dumps(line, separators=(",", ":"), default=str).encode() + b"\n" for line in lines)
    while True:
        key = location.part_key(kind, try_number, part)
        try:
            await client.put_object(
                Bucket=location.bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
                Metadata={"input-sha256": input_sha256, "write-id": write_id},
                IfNoneMatch="*",
            )
            return part
        except client.exceptions.ClientError as error:
            if error.response["Error"]["Code"] not in _TAKEN:
                raise
            existing = await client.head_object(Bucket=location.bucket, Key=key)
            if existing.get("Metadata", {}).get("write-id") == write_id:
                return part
            part += 1


async def write_summary(client: Any, location: RunLocation, summary: dict[str, Any]) -> None:
    await client.put_object(
        Bucket=location.bucket,
        Key=location.summary_key,
        Body=json.dumps(summary, indent=2, default=str).encode(),
        ContentType="application/json",
    )
