"""Payloads JSON cannot carry: refused before anything is invoked, with the reason and where."""

from __future__ import annotations

from typing import Any

import pytest

from lambdapipe.fanout.batching import BatchingError, make_batches
from lambdapipe.invoking.payloads import PayloadError, encode_payload

BAD_PAYLOADS = [
    ("NaN in a dict", {"price": float("nan")}, "NaN or Infinity"),
    ("Infinity in a list", [1, float("inf")], "NaN or Infinity"),
    ("NaN in JSON text", '{"price": NaN}', "NaN is not JSON"),
    ("-Infinity in JSON text", "[-Infinity]", "-Infinity is not JSON"),
    ("an object JSON has no form for", {"when": object()}, "not JSON-serializable"),
    ("bytes that are not UTF-8", b'{"a": "\xff"}', "not UTF-8 text (invalid start byte at byte 7)"),
]


@pytest.mark.parametrize(
    ("payload", "says"), [case[1:] for case in BAD_PAYLOADS], ids=[case[0] for case in BAD_PAYLOADS]
)
def test_a_payload_json_cannot_carry_is_refused_saying_why(payload: Any, says: str) -> None:
    with pytest.raises(PayloadError) as refused:
        encode_payload(payload)

    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("item", "says"),
    [(float("nan"), "item 2 holds NaN or Infinity"), ({"at": {1, 2}}, "item 2 is not JSON")],
    ids=["NaN", "a set"],
)
def test_a_map_item_json_cannot_carry_is_named_by_its_position_before_any_invocation(
    item: Any, says: str
) -> None:
    with pytest.raises(BatchingError) as refused:
        make_batches([{"n": 0}, {"n": 1}, item, {"n": 3}], max_items=2)

    assert says in str(refused.value)
