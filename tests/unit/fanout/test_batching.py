"""Batching fan-out items: size and byte limits, and an oversized item refused by its position."""

from __future__ import annotations

import pytest

from lambdapipe.fanout.batching import BatchingError, make_batches


def test_batches_respect_max_items_and_max_bytes_and_an_oversized_item_is_refused_by_position() -> None:
    items = [{"n": n, "pad": "x" * 30} for n in range(10)]

    by_count = make_batches(items, max_items=4)
    by_bytes = make_batches(items, max_items=10, max_bytes=120)

    assert [len(batch.items) for batch in by_count] == [4, 4, 2]
    assert [batch.first_item for batch in by_count] == [0, 4, 8]
    assert [len(batch.items) for batch in by_bytes] == [2] * 5
    assert all(len(batch.payload("items")) <= 120 for batch in by_bytes)
    assert [item for batch in by_bytes for item in batch.items] == items
    assert by_count[0].payload(None) == b'{"n":0,"pad":"' + b"x" * 30 + b'"}'
    with pytest.raises(BatchingError, match=r"item 1 is 47 bytes encoded, above the 40-byte batch limit"):
        make_batches([{"n": 0}, {"pad": "x" * 36}], max_items=1, max_bytes=40, batch_input_key=None)
