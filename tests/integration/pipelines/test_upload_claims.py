"""Upload claims are fenced: a run that lost its claim can never commit a row for that upload."""

from __future__ import annotations

from typing import Any

import pytest

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe_demo import uploads as steps
from tests.support.upload_steps import nothing_recorded

UPLOAD = steps.Upload("uploads", "incoming/a.png", "etag-1")


def _row(upload: steps.Upload) -> dict[str, Any]:
    return {"bucket": upload.bucket, "key": upload.key, "etag": upload.etag, "status": "resized"}


def test_a_run_whose_stale_claim_was_taken_over_keeps_no_row_for_it_and_the_new_owner_does(
    store: IdempotencyStore,
) -> None:
    assert steps.claim_new(store, [UPLOAD], "slow_run", nothing_recorded) == [UPLOAD]
    # An hour later the reconcile run takes the claim the slow run never finished.
    assert store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0).won

    assert steps.keep_held_claims(store, [_row(UPLOAD)], "slow_run") == []
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "reconcile") == [_row(UPLOAD)]


def test_a_sealed_claim_is_not_taken_over_by_a_reconcile_while_its_run_commits(
    store: IdempotencyStore,
) -> None:
    steps.claim_new(store, [UPLOAD], "slow_run", nothing_recorded)
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "slow_run") == [_row(UPLOAD)]

    takeover = store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0)

    assert (takeover.won, takeover.owner, takeover.status) == (False, "slow_run", "sealed")
    store.finish(UPLOAD.claim_key, owner="slow_run")  # the commit's run still owns it


def test_a_sealed_claim_whose_run_never_committed_is_taken_over_after_the_sealed_stale_time(
    store: IdempotencyStore,
) -> None:
    steps.claim_new(store, [UPLOAD], "crashed_run", nothing_recorded)
    steps.keep_held_claims(store, [_row(UPLOAD)], "crashed_run")

    takeover = store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0, sealed_stale_after_s=0)

    assert takeover.won
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "crashed_run") == []


def test_a_sealed_claim_taken_over_after_its_run_committed_is_finished_not_redone(
    store: IdempotencyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run died between its commit and finishing the claim: the table has the row already."""
    fresh = steps.Upload("uploads", "incoming/fresh.png", "etag-2")
    steps.claim_new(store, [UPLOAD], "committed_then_died", nothing_recorded)
    steps.keep_held_claims(store, [_row(UPLOAD)], "committed_then_died")
    looked_up: list[list[steps.Upload]] = []

    def the_table_has_it(uploads: list[steps.Upload]) -> set[tuple[str, str, str]]:
        looked_up.append(uploads)
        return {(UPLOAD.bucket, UPLOAD.key, UPLOAD.etag)}

    monkeypatch.setattr(steps, "STALE_SEALED_CLAIM_S", 0)  # six hours later
    mine = steps.claim_new(store, [UPLOAD, fresh], "reconcile", the_table_has_it)

    assert mine == [fresh]
    assert looked_up == [[UPLOAD]], "only the taken-over sealed claim is looked up in the table"
    assert store.get(UPLOAD.claim_key)["status"] == "done"


def test_claims_of_recorded_uploads_are_refused_with_their_status_and_owner(store: IdempotencyStore) -> None:
    steps.claim_new(store, [UPLOAD], "first_run", nothing_recorded)
    store.finish(UPLOAD.claim_key, owner="first_run")

    again = store.claim(UPLOAD.claim_key, owner="reconcile", stale_after_s=0, sealed_stale_after_s=0)

    assert (again.won, again.owner, again.status) == (False, "first_run", "done")
    assert store.records([UPLOAD.claim_key, "upload#uploads/incoming/never.png#e"]) == {
        UPLOAD.claim_key: {"status": "done"}
    }


def test_a_retry_of_the_run_that_took_over_a_sealed_claim_checks_the_table_again(
    store: IdempotencyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first try took the claim and died before its lookup: the record still names who sealed it."""
    steps.claim_new(store, [UPLOAD], "sealed_then_died", nothing_recorded)
    steps.keep_held_claims(store, [_row(UPLOAD)], "sealed_then_died")
    monkeypatch.setattr(steps, "STALE_SEALED_CLAIM_S", 0)
    first_try = store.claim(
        UPLOAD.claim_key, owner="reconcile", stale_after_s=0, sealed_stale_after_s=0
    )  # ... and the task died here
    looked_up: list[list[steps.Upload]] = []

    def the_table_has_it(uploads: list[steps.Upload]) -> set[tuple[str, str, str]]:
        looked_up.append(uploads)
        return {(UPLOAD.bucket, UPLOAD.key, UPLOAD.etag)}

    retry = steps.claim_new(store, [UPLOAD], "reconcile", the_table_has_it)

    assert first_try.sealed_by_other == "sealed_then_died"
    assert (retry, looked_up) == ([], [[UPLOAD]])


def test_a_claim_left_by_a_run_that_is_over_is_taken_at_once_and_one_of_a_running_run_is_not(
    store: IdempotencyStore,
) -> None:
    """A chaos run lost 20 uploads: their run failed (a task out of retries after kills) holding their
    claims, and the final reconcile skipped them for the hour a claim takes to go stale."""
    running = steps.Upload("uploads", "incoming/running.png", "etag-2")
    steps.claim_new(store, [UPLOAD], "failed_run", nothing_recorded)
    steps.claim_new(store, [running], "running_run", nothing_recorded)
    asked: list[str] = []

    def run_ended(run_id: str) -> bool:
        asked.append(run_id)
        return run_id == "failed_run"

    mine = steps.claim_new(store, [UPLOAD, running], "reconcile", nothing_recorded, run_ended)

    assert mine == [UPLOAD]
    assert (store.get(UPLOAD.claim_key)["owner"], store.get(running.claim_key)["owner"]) == (
        "reconcile",
        "running_run",
    )
    assert sorted(asked) == ["failed_run", "running_run"]
    assert steps.keep_held_claims(store, [_row(UPLOAD)], "failed_run") == [], (
        "the failed run, cleared, is fenced"
    )


def test_a_sealed_claim_of_a_run_that_is_over_is_looked_up_in_the_table_before_it_is_redone(
    store: IdempotencyStore,
) -> None:
    """The run sealed, maybe committed, then failed: its upload may be in the table already."""
    steps.claim_new(store, [UPLOAD], "failed_after_sealing", nothing_recorded)
    steps.keep_held_claims(store, [_row(UPLOAD)], "failed_after_sealing")

    def the_table_has_it(uploads: list[steps.Upload]) -> set[tuple[str, str, str]]:
        return {(u.bucket, u.key, u.etag) for u in uploads}

    mine = steps.claim_new(store, [UPLOAD], "reconcile", the_table_has_it, lambda run_id: True)

    assert mine == []
    assert store.get(UPLOAD.claim_key)["status"] == "done"
