"""Recorded uploads leave incoming/, so a reconcile lists only what is new; a move never takes a newer version."""

from __future__ import annotations

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe_demo import uploads as steps
from lambdapipe_demo.upload_objects import move_version
from lambdapipe_local import LocalAws

BUCKET = "uploads"


def _put(s3, key: str, body: bytes = b"image") -> steps.Upload:
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/png")["ETag"].strip('"')
    return steps.Upload(BUCKET, key, etag, len(body), "image/png")


def _keys(s3, prefix: str) -> list[str]:
    return [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_a_move_leaves_an_object_overwritten_since_for_the_run_of_its_new_version(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    first = _put(s3, "incoming/a.png", b"first version")
    newer = _put(s3, "incoming/a.png", b"second version")

    moved = move_version(s3, BUCKET, first.key, first.etag, "processed/a.png")

    assert moved is False
    assert _keys(s3, "processed/") == []
    assert s3.head_object(Bucket=BUCKET, Key="incoming/a.png")["ETag"].strip('"') == newer.etag


def test_a_recorded_upload_leaves_incoming_and_a_retried_move_is_a_no_op(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    upload = _put(s3, "incoming/b.png")
    row = upload.to_dict() | {"status": "resized"}

    steps.leave_incoming(s3, row)
    steps.leave_incoming(s3, row)  # record_uploads retried

    assert _keys(s3, "incoming/") == []
    assert _keys(s3, "processed/") == ["processed/b.png"]


def test_a_reconcile_finishes_interrupted_moves_and_heads_only_the_new_objects(
    aws: LocalAws, store: IdempotencyStore
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    resized = _put(s3, "incoming/resized.png")
    rejected = _put(s3, "incoming/rejected.png", b"not an image")
    new = _put(s3, "incoming/new.png")
    # Both were recorded by a run that died before moving them; the reject was already copied.
    s3.copy_object(
        CopySource={"Bucket": BUCKET, "Key": rejected.key}, Bucket=BUCKET, Key="quarantine/rejected.png"
    )
    for done, where in ((resized, steps.PROCESSED_PREFIX), (rejected, steps.QUARANTINE_PREFIX)):
        store.claim(done.claim_key, owner="died_after_commit")
        store.finish(done.claim_key, owner="died_after_commit", **{steps.DESTINATION: where})
    aws.calls.reset()

    candidates = steps.reconcile_candidates(s3, store, BUCKET)

    assert candidates == [new]
    assert _keys(s3, "incoming/") == ["incoming/new.png"]
    assert _keys(s3, "processed/") == ["processed/resized.png"]
    assert _keys(s3, "quarantine/") == ["quarantine/rejected.png"]
    calls = aws.calls.snapshot()
    assert calls["dynamodb:BatchGetItem"] == 1
    # new.png's content type, "is the reject in quarantine/ already?", and the managed copy's own HEAD
    # of resized.png: none for the objects merely listed.
    assert calls["s3:HeadObject"] == 3, calls.calls


def test_a_reconcile_moves_the_recorded_objects_it_can_and_leaves_the_rest_without_failing(
    aws: LocalAws, store: IdempotencyStore
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    archived = _put(s3, "incoming/archived.png")
    s3.copy_object(  # now in Glacier: S3 refuses to copy it
        CopySource={"Bucket": BUCKET, "Key": archived.key},
        Bucket=BUCKET,
        Key=archived.key,
        StorageClass="GLACIER",
    )
    archived = steps.Upload(
        BUCKET, archived.key, s3.head_object(Bucket=BUCKET, Key=archived.key)["ETag"].strip('"')
    )
    movable = _put(s3, "incoming/movable.png")
    left_by_design = _put(s3, "incoming/quarantine-failed.png")  # its row says it stays in incoming/
    for upload, where in (
        (archived, steps.PROCESSED_PREFIX),
        (movable, steps.PROCESSED_PREFIX),
        (left_by_design, steps.UPLOAD_PREFIX),
    ):
        store.claim(upload.claim_key, owner="run")
        store.finish(upload.claim_key, owner="run", **{steps.DESTINATION: where})

    candidates = steps.reconcile_candidates(s3, store, BUCKET)

    assert candidates == []
    assert _keys(s3, "incoming/") == ["incoming/archived.png", "incoming/quarantine-failed.png"]
    assert _keys(s3, "processed/") == ["processed/movable.png"]


def test_an_object_overwritten_between_the_copy_and_the_delete_stays_for_its_own_run(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    first = _put(s3, "incoming/c.png", b"first version")
    uploader = aws.client("s3")  # another client: a user uploading while the run moves the file

    def overwrite_before_the_delete(**_: object) -> None:
        uploader.put_object(Bucket=BUCKET, Key=first.key, Body=b"second version")

    s3.meta.events.register_first("before-call.s3.DeleteObject", overwrite_before_the_delete)
    moved = move_version(s3, BUCKET, first.key, first.etag, "processed/c.png")

    assert moved is False
    assert s3.get_object(Bucket=BUCKET, Key=first.key)["Body"].read() == b"second version"
    assert s3.get_object(Bucket=BUCKET, Key="processed/c.png")["Body"].read() == b"first version"
