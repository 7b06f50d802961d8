"""Upload claims are fenced: a run that lost its claim can never commit a row for that upload."""

from __future__ import annotations

from typing import Any

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe_demo import uploads as steps

UPLOAD = steps.Upload("uploads", "incoming/a.png", "etag-1")


def _row(upload: steps.Upload) -> dict[str, Any]:
    return {"bucket": upload.bucket, "key": upload.key, "etag": upload.etag, "status": "resized"}


def test_a_run_whose_stale_claim_was_taken_over_keeps_no_row_for_it_and_the_new_owner_does(
    store: IdempotencyStore,
) -> None:
    assert steps.claim_new(store, [UPLOAD], set(), "slow_run") == [UPLOAD]
    # An hour later the reconcile run takes the claim the slow run never finished.
    assert store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0).won

    assert steps.keep_held_claims(store, [_row(UPLOAD)], "slow_run") == []
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "reconcile") == [_row(UPLOAD)]


def test_a_sealed_claim_is_not_taken_over_by_a_reconcile_while_its_run_commits(
    store: IdempotencyStore,
) -> None:
    steps.claim_new(store, [UPLOAD], set(), "slow_run")
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "slow_run") == [_row(UPLOAD)]

    takeover = store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0)

    assert (takeover.won, takeover.owner, takeover.status) == (False, "slow_run", "sealed")
    store.finish(UPLOAD.claim_key, owner="slow_run")  # the commit's run still owns it


def test_a_sealed_claim_whose_run_never_committed_is_taken_over_after_the_sealed_stale_time(
    store: IdempotencyStore,
) -> None:
    steps.claim_new(store, [UPLOAD], set(), "crashed_run")
    steps.keep_held_claims(store, [_row(UPLOAD)], "crashed_run")

    takeover = store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0, sealed_stale_after_s=0)

    assert takeover.won
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "crashed_run") == []
