"""Group items into invocation payloads, like Step Functions' ItemBatcher (max items, max bytes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambdapipe.invoking.payloads import SYNC_LIMIT_BYTES


class BatchingError(ValueError):
    """An item cannot be sent at all: not JSON (NaN, Infinity, an object JSON has no form for), or
    larger than Lambda's payload limit on its own."""


def encode_item(item: Any, position: int) -> bytes:
    """The item as strict JSON; a ``BatchingError`` naming its position if it has no JSON form."""
    try:
        return json.dumps(item, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except ValueError:
        raise BatchingError(
            f"item {position} holds NaN or Infinity, which JSON cannot carry; send null or a string"
        ) from None
    except TypeError as error:
        raise BatchingError(f"item {position} is not JSON: {error}") from None


@dataclass(frozen=True)
class Batch:
    """Items ``first_item .. first_item + len(items) - 1`` of the input, sent in one invocation."""

    index: int
    first_item: int
    items: list[Any]

    def payload(self, batch_input_key: str | None) -> bytes:
        """One item as the event itself, or ``{batch_input_key: [items...]}`` for batching functions."""
        body = {batch_input_key: self.items} if batch_input_key else self.items[0]
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "first_item": self.first_item, "items": self.items}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        return cls(data["index"], data["first_item"], data["items"])


def make_batches(
    items: list[Any], max_items: int = 1, max_bytes: int | None = None, batch_input_key: str | None = "items"
) -> list[Batch]:
    """Consecutive batches of at most ``max_items`` items and ``max_bytes`` encoded bytes each.

    With ``max_items=1`` and no ``batch_input_key`` each item is its own event.
    """
    if max_items < 1:
        raise BatchingError(f"max_items must be at least 1 (got {max_items})")
    if max_items > 1 and not batch_input_key:
        raise BatchingError("batching more than one item per invocation needs a batch_input_key")
    byte_limit = min(max_bytes or SYNC_LIMIT_BYTES, SYNC_LIMIT_BYTES)
    overhead = len(json.dumps({batch_input_key: []})) if batch_input_key else 0
    batches: list[Batch] = []
    current: list[Any] = []
    current_bytes = overhead
    first = 0
    for position, item in enumerate(items):
        size = len(encode_item(item, position)) + 1
        if size + overhead > byte_limit:
            raise BatchingError(
                f"item {position} is {size:,} bytes encoded, above the {byte_limit:,}-byte batch limit"
            )
        if current and (len(current) >= max_items or current_bytes + size > byte_limit):
            batches.append(Batch(len(batches), first, current))
            current, current_bytes, first = [], overhead, position
        current.append(item)
        current_bytes += size
    if current:
        batches.append(Batch(len(batches), first, current))
    return batches


def per_item_results(result: Any, count: int, batched: bool) -> list[Any] | None:
    """A batch result that lists one entry per item (a list, or ``{"results": [...]}``) maps back to items.

    Unbatched, the result is the item's own; a batch of one item still answers with its list.
    """
    if count == 1 and not batched:
        return [result]
    if isinstance(result, dict) and isinstance(result.get("results"), list):
        result = result["results"]
    if isinstance(result, list) and len(result) == count:
        return result
    return None
