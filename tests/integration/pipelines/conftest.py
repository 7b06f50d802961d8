"""The upload pipeline's steps against the local stack: an idempotency table per test."""

from __future__ import annotations

import pytest

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe_local import LocalAws


@pytest.fixture
def store(aws: LocalAws) -> IdempotencyStore:
    """The claims table, as include/demo_infrastructure.py creates it."""
    store = IdempotencyStore(aws.client("dynamodb"), "idempotency")
    store.ensure_table()
    return store
