"""The S3-upload pipeline's steps (dags/s3_upload_processing.py), as plain functions on AWS clients.

Why the steps look like this:

- The SQS AssetWatcher leaves messages hidden, and the run deletes them once it recorded its
  uploads (``upload_messages``); a scheduled reconcile run lists ``incoming/`` and processes whatever
  no run has recorded, as a safety net: nothing is lost.
- A watcher run and a reconcile run may see the same object: each object is claimed in DynamoDB
  (``upload#<bucket>/<key>#<etag>``) before processing, so exactly one run processes it; its own
  retries may take the claim again, and a claim a crashed or stuck run left unfinished is taken over
  after ``STALE_CLAIM_S``. Claims are fenced: before quarantining and committing, a run seals its
  claims and drops every upload whose claim another run took over, so two runs never both record one
  upload. A sealed claim is taken over only after ``STALE_SEALED_CLAIM_S`` (a run that died between
  sealing and committing; the taker first looks that upload up in the table, so a committed upload
  is never redone).
- A run's cost grows with its new uploads, not with history: the claim store (point writes) says
  what is done, never a read of the ``uploads`` table; recorded objects leave ``incoming/`` (to
  ``processed/`` or ``quarantine/``), so the reconcile lists only what is new.
- Rows are committed per run (replace the run's rows), so a retried or re-run task never
  duplicates them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdapipe.events.s3_events import NotAnS3Event, ObjectFilter, S3ObjectEvent, parse_message
from lambdapipe.idempotency import Claim, IdempotencyStore
from lambdapipe_demo.upload_objects import head_object, listed_objects, move_version

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "incoming/"
QUARANTINE_PREFIX = "quarantine/"
PROCESSED_PREFIX = "processed/"  # resized and skipped originals, once recorded
DESTINATION = "destination"  # the claim attribute naming where a recorded object goes
STALE_CLAIM_S = 3600
STALE_SEALED_CLAIM_S = 6 * 3600
# An upload that failed in this many runs is quarantined as poison instead of retried every hour.
MAX_FAILED_RUNS = 3
# S3 allows 2 KB of user metadata (names and values): the original key (up to 1,024) plus the reason.
MAX_REASON_METADATA_BYTES = 900


class QuarantineError(RuntimeError):
    """The rejected version could not be quarantined: the key holds another version, or none."""


@dataclass(frozen=True)
class Upload:
    """An object to process: where it is and which version (etag)."""

    bucket: str
    key: str
    etag: str
    size: int | None = None
    content_type: str | None = None

    @property
    def claim_key(self) -> str:
        return f"upload#{self.bucket}/{self.key}#{self.etag}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "content_type": self.content_type,
        }


def events_from_asset_events(asset_events: list[Any]) -> tuple[list[S3ObjectEvent], list[str]]:
    """Object events from the SQS messages behind the triggering asset events; plus what was not S3."""
    events: list[S3ObjectEvent] = []
    problems: list[str] = []
    for asset_event in asset_events:
        extra = getattr(asset_event, "extra", None) or {}
        payload = extra.get("payload") or {}
        for message in payload.get("message_batch", []):
            if not isinstance(message, dict):
                problems.append(f"a message that is a {type(message).__name__}, not an SQS message")
                continue
            name = f"message {message.get('MessageId', '?')}"
            try:
                parsed = parse_message(message.get("Body", ""))
            except NotAnS3Event as error:
                problems.append(f"{name}: {error}")
                continue
            events.extend(parsed.events)
            problems.extend(f"{name}, {problem}" for problem in parsed.problems)
    return events, problems


def uploads_from_events(s3: Any, events: list[S3ObjectEvent], wanted: ObjectFilter) -> list[Upload]:
    """Current uploads among the events (a later overwrite or delete wins: HEAD decides)."""
    seen: dict[tuple[str, str], Upload] = {}
    for event in events:
        if not wanted.matches(event) or (event.bucket, event.key) in seen:
            continue
        upload = head(s3, event.bucket, event.key)
        if upload is not None:
            seen[(event.bucket, event.key)] = upload
    return list(seen.values())


def reconcile_candidates(s3: Any, store: IdempotencyStore, bucket: str) -> list[Upload]:
    """The objects in ``incoming/`` no run has recorded: the reconcile run's view.

    Processed objects leave ``incoming/``, so the listing holds only new objects and the few a run
    recorded but did not move (it died first, or S3 refused the move): their claims are done (one
    batched read per 100 objects), and the move is finished here, one object's failure not stopping
    the others. Only the rest are HEADed (for their content type).
    """
    listed = [
        Upload(bucket, obj.key, obj.etag, obj.size) for obj in listed_objects(s3, bucket, UPLOAD_PREFIX)
    ]
    records = store.records([upload.claim_key for upload in listed], ("status", DESTINATION))
    candidates = []
    for upload in listed:
        record = records.get(upload.claim_key, {})
        if record.get("status") != "done":
            candidates.append(head(s3, bucket, upload.key) or upload)
            continue
        try:
            finish_leaving_incoming(s3, upload, record.get(DESTINATION))
        except ClientError as error:
            log.warning(
                "%s/%s is recorded but could not leave %s: %s", bucket, upload.key, UPLOAD_PREFIX, error
            )
    return candidates


def head(s3: Any, bucket: str, key: str) -> Upload | None:
    response = head_object(s3, bucket, key)
    if response is None:
        return None
    return Upload(
        bucket, key, response["ETag"].strip('"'), response["ContentLength"], response.get("ContentType")
    )


def claim_new(
    store: IdempotencyStore,
    uploads: list[Upload],
    run_id: str,
    recorded_among: Callable[[list[Upload]], set[tuple[str, str, str]]],
    run_ended: Callable[[str], bool] | None = None,
) -> list[Upload]:
    """The uploads this run must process: claimed by this run, and not recorded yet.

    A claim another run still holds although that run is over (``run_ended``: it failed, e.g. a task
    out of retries after kills) is released on its behalf and taken here: waiting ``STALE_CLAIM_S``
    would leave its uploads unrecorded for an hour. Fenced like any takeover: were the run cleared and
    run again, its seal would fail.

    The claim store is the index of what is done (one conditional write per candidate, never a read
    of the whole ``uploads`` table). Only an upload whose claim another run sealed may have been
    committed by that run (it died between its commit and finishing the claim; the record keeps
    who sealed it through later claims, so a retry of this task checks again):
    ``recorded_among`` looks those few up in the table, and they are finished, not redone.
    """
    mine, maybe_committed = [], []
    over = functools.cache(run_ended) if run_ended is not None else None  # asked once per owner run
    for upload in uploads:
        claim = _claim(store, upload, run_id)
        if not claim.won and claim.status in {"claimed", "sealed"} and over is not None and over(claim.owner):
            store.release(upload.claim_key, owner=claim.owner)
            log.info(
                "%s/%s: released the claim of run %s, which is over", upload.bucket, upload.key, claim.owner
            )
            claim = _claim(store, upload, run_id)
        if not claim.won:
            log.info(
                "%s/%s: %s by run %s, skipped here", upload.bucket, upload.key, claim.status, claim.owner
            )
        elif claim.sealed_by_other:
            maybe_committed.append(upload)
        else:
            mine.append(upload)
    committed = recorded_among(maybe_committed) if maybe_committed else set()
    for upload in maybe_committed:
        if (upload.bucket, upload.key, upload.etag) in committed:
            store.finish(upload.claim_key, owner=run_id)
            log.info("%s/%s: recorded by the run that died after its commit", upload.bucket, upload.key)
        else:
            mine.append(upload)
    return mine


def _claim(store: IdempotencyStore, upload: Upload, run_id: str) -> Claim:
    return store.claim(
        upload.claim_key,
        owner=run_id,
        stale_after_s=STALE_CLAIM_S,
        sealed_stale_after_s=STALE_SEALED_CLAIM_S,
    )


def keep_held_claims(
    store: IdempotencyStore, rows: list[dict[str, Any]], run_id: str
) -> list[dict[str, Any]]:
    """The rows whose claim this run still holds, each sealed so that no other run takes it before the commit.

    A run that outlived its claim (stuck over ``STALE_CLAIM_S``) lost it to another run, which
    records that upload: this run must not.
    """
    held = []
    for row in rows:
        if store.seal(Upload(row["bucket"], row["key"], row["etag"]).claim_key, owner=run_id):
            held.append(row)
        else:
            log.warning(
                "%s/%s: another run took over this run's claim (it went stale); that run records it",
                row["bucket"],
                row["key"],
            )
    return held


def give_up_on_poison(
    store: IdempotencyStore, rows: list[dict[str, Any]], run_id: str
) -> list[dict[str, Any]]:
    """Failed rows, each noted on its claim; one that failed in ``MAX_FAILED_RUNS`` runs becomes ``rejected``.

    Rows whose claim another run took over are dropped.

    A poison object (unreadable, or failing the function every time) is then quarantined with the
    last error instead of being retried every hour.
    """
    settled = []
    for row in rows:
        key = Upload(row["bucket"], row["key"], row["etag"]).claim_key
        failed_runs = store.record_failure(key, run_id, row.get("reason") or "failed")
        if failed_runs is None:
            continue  # another run took the claim over: it records this upload
        if failed_runs >= MAX_FAILED_RUNS:
            row = {
                **row,
                "status": "rejected",
                "reason": f"failed in {failed_runs} runs; last: {row.get('reason')}",
            }
        settled.append(row)
    return settled


def release_failed(store: IdempotencyStore, rows: list[dict[str, Any]], run_id: str) -> None:
    """Release the claims of the rows that failed, so the next reconcile run retries them at once."""
    for row in rows:
        if row["status"] == "failed":
            store.release(Upload(row["bucket"], row["key"], row["etag"]).claim_key, owner=run_id)


def merge_rows(earlier: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's rows: those it committed before (an earlier try, or before a rerun), updated by ``now``.

    Commits replace all of a run's rows, so a rerun that recorded only its new uploads would delete
    the rows of the uploads it processed the first time.
    """
    merged = {(row["bucket"], row["key"], row["etag"]): row for row in earlier}
    merged.update({(row["bucket"], row["key"], row["etag"]): row for row in now})
    return list(merged.values())


def outcome_rows(uploads: list[Upload], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``uploads`` row per object: the function's verdict, or the invocation's failure."""
    now = datetime.now(UTC)
    by_index = {line["index"]: line for line in results}
    rows = []
    for index, upload in enumerate(uploads):
        line = by_index.get(index)
        result = (line or {}).get("result") if line and line.get("status") == "succeeded" else None
        if result is None:
            error = (line or {}).get("error") or {"errorMessage": "no result recorded"}
            status, reason = "failed", f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
        else:
            status, reason = result.get("status", "failed"), result.get("reason")
        rows.append(
            {
                "bucket": upload.bucket,
                "key": upload.key,
                "etag": upload.etag,
                "size": upload.size,
                "content_type": upload.content_type,
                "width": (result or {}).get("width"),
                "height": (result or {}).get("height"),
                "output_key": (result or {}).get("output_key"),
                "status": status,
                "reason": reason,
                "processed_at": now,
            }
        )
    return rows


def quarantine(s3: Any, row: dict[str, Any]) -> str:
    """Move a rejected object to ``quarantine/`` with the reason as metadata; idempotent on retry
    (the copy made, the source gone). Raises ``QuarantineError`` when the version is neither moved
    now nor in ``quarantine/`` already (overwritten or deleted meanwhile).

    The metadata is ASCII and within S3's 2 KB.
    """
    target = QUARANTINE_PREFIX + row["key"].removeprefix(UPLOAD_PREFIX)
    reason = (row.get("reason") or "rejected").encode("ascii", "replace")[:MAX_REASON_METADATA_BYTES]
    metadata = {"reason": reason.decode(), "original-key": row["key"].encode("ascii", "replace").decode()}
    moved = move_version(
        s3,
        row["bucket"],
        row["key"],
        row["etag"],
        target,
        {"Metadata": metadata, "MetadataDirective": "REPLACE"},
    )
    if not moved and head_object(s3, row["bucket"], target) is None:
        raise QuarantineError(f"{row['key']} changed or vanished before it could be quarantined")
    return target


def destination(row: dict[str, Any]) -> str:
    """Where a recorded upload's object goes, noted on its claim so a reconcile can finish the move."""
    if row["status"] != "rejected":
        return PROCESSED_PREFIX
    return QUARANTINE_PREFIX if (row.get("output_key") or "").startswith(QUARANTINE_PREFIX) else UPLOAD_PREFIX


def leave_incoming(s3: Any, row: dict[str, Any]) -> None:
    """Move a resized or skipped original to ``processed/`` once its row is committed; a move S3
    refuses is logged and left to the next reconcile (the row and the claim are done already)."""
    try:
        move_version(s3, row["bucket"], row["key"], row["etag"], PROCESSED_PREFIX + _name(row["key"]))
    except ClientError as error:
        log.warning(
            "%s/%s: not moved to %s yet (the reconcile will): %s",
            row["bucket"],
            row["key"],
            PROCESSED_PREFIX,
            error,
        )


def finish_leaving_incoming(s3: Any, upload: Upload, where: str | None) -> None:
    """Finish the move of a recorded upload to where its claim says (claims finished before this was
    noted: ``processed/``). A reject is deleted from ``incoming/`` only once its quarantine copy
    exists; one whose quarantine S3 refused stays, as its row says."""
    if where == UPLOAD_PREFIX:
        return
    if where == QUARANTINE_PREFIX:
        if head_object(s3, upload.bucket, QUARANTINE_PREFIX + _name(upload.key)) is not None:
            with contextlib.suppress(ClientError):  # gone or overwritten meanwhile: nothing to finish
                s3.delete_object(Bucket=upload.bucket, Key=upload.key, IfMatch=f'"{upload.etag}"')
        return
    move_version(s3, upload.bucket, upload.key, upload.etag, PROCESSED_PREFIX + _name(upload.key))


def _name(key: str) -> str:
    return key.removeprefix(UPLOAD_PREFIX)


def summary(
    rows: list[dict[str, Any]], map_summary: dict[str, Any] | None, problems: list[str]
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {
        "uploads_in": len(rows),
        "processed": counts.get("resized", 0),
        "skipped": counts.get("skipped", 0),
        "rejected": counts.get("rejected", 0),
        "failed": counts.get("failed", 0),
        "bytes_in": sum(row.get("size") or 0 for row in rows),
        "lambda_cost_usd": (map_summary or {}).get("cost_usd", 0.0),
        "unreadable_messages": len(problems),
    }
