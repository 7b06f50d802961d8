"""Uploads that keep failing end quarantined after a few runs, and quarantining works for any object."""

from __future__ import annotations

from typing import Any

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe_demo import uploads as steps
from lambdapipe_local import LocalAws
from tests.support.upload_steps import nothing_recorded

ARCHIVED = steps.Upload("uploads", "incoming/archived.jpg", "etag-1")
REASON = "cannot read the object: S3 GetObject InvalidObjectState: archived"


def _failed(upload: steps.Upload) -> dict[str, Any]:
    return {
        "bucket": upload.bucket,
        "key": upload.key,
        "etag": upload.etag,
        "status": "failed",
        "reason": REASON,
    }


def test_a_failed_upload_is_released_at_once_and_quarantined_as_poison_in_the_third_run_that_fails_it(
    store: IdempotencyStore,
) -> None:
    outcomes = []
    for run_id in ("run_1", "run_2", "run_3"):
        assert steps.claim_new(store, [ARCHIVED], run_id, nothing_recorded) == [ARCHIVED], (
            run_id
        )  # no hour's wait
        outcomes.append(steps.give_up_on_poison(store, [_failed(ARCHIVED)], run_id))
        steps.release_failed(store, outcomes[-1], run_id)

    assert [[row["status"] for row in rows] for rows in outcomes] == [["failed"], ["failed"], ["rejected"]]
    assert outcomes[2][0]["reason"] == f"failed in {steps.MAX_FAILED_RUNS} runs; last: {REASON}"


def test_a_retried_task_of_one_run_counts_as_one_failed_run(store: IdempotencyStore) -> None:
    steps.claim_new(store, [ARCHIVED], "run_1", nothing_recorded)
    for _ in range(steps.MAX_FAILED_RUNS + 1):  # record_uploads retried in the same run
        rows = steps.give_up_on_poison(store, [_failed(ARCHIVED)], "run_1")

    assert [row["status"] for row in rows] == ["failed"]


def test_quarantine_copies_a_large_object_in_parts_and_keeps_its_metadata_within_the_2_kb_limit(
    aws: LocalAws,
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="uploads")
    key = "incoming/" + "k" * 1000  # S3 keys go up to 1,024 bytes
    etag = s3.put_object(Bucket="uploads", Key=key, Body=b"x" * (9 * 1024 * 1024))["ETag"].strip('"')
    row = {"bucket": "uploads", "key": key, "etag": etag, "status": "rejected", "reason": "é" * 3000}

    target = steps.quarantine(s3, row)

    head = s3.head_object(Bucket="uploads", Key=target)
    assert head["ContentLength"] == 9 * 1024 * 1024
    assert sum(len(name) + len(value.encode()) for name, value in head["Metadata"].items()) <= 2048
    assert head["Metadata"]["reason"].startswith("?")
    assert aws.calls.snapshot()["s3:UploadPartCopy"] >= 2  # a CopyObject is refused above 5 GB
    assert "Contents" not in s3.list_objects_v2(Bucket="uploads", Prefix="incoming/")
