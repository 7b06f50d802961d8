"""DynamoDB's wire format (``{"S": ...}``, ``{"N": "19.9"}``, ...) as plain JSON values.

Numbers become ``int`` when whole and otherwise stay exact decimal strings (never floats), the shape
the Lambda functions and the tables accept. Converting the wire format directly is several times
faster than boto3's ``TypeDeserializer`` plus a Decimal pass, which matters at 100,000 items.
:func:`read_items` goes further and keeps botocore from parsing the items at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

# Set while read_items pages through a Query/Scan: only those calls' items skip botocore's parser.
_reading_raw_items: ContextVar[bool] = ContextVar("lambdapipe_reading_raw_items", default=False)
_HANDLER_ID = "lambdapipe-raw-dynamodb-items"


class UnknownAttributeTypeError(ValueError):
    """An attribute value whose type descriptor DynamoDB does not define."""


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level item (or map) as a plain dict."""
    return {name: plain_value(value) for name, value in item.items()}


def plain_value(value: dict[str, Any]) -> Any:
    ((kind, data),) = value.items()
    if kind in ("S", "BOOL", "B"):  # B: base64 text, as it came over the wire
        return data
    if kind == "N":
        return _number(data)
    if kind == "M":
        return plain_item(data)
    if kind == "L":
        return [plain_value(element) for element in data]
    if kind == "NULL":
        return None
    if kind in ("SS", "BS"):
        return sorted(data)
    if kind == "NS":
        return sorted((_number(number) for number in data), key=float)
    raise UnknownAttributeTypeError(f"unknown DynamoDB attribute type {kind!r}")


def _number(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def read_items(dynamodb: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated ``Query`` or ``Scan`` (``operation``), as plain JSON values.

    botocore parses each attribute of each item against the response shape, ~100 µs per order-sized
    item, most of reading 100,000 orders. The items' wire format is already what :func:`plain_item`
    reads, so they are taken from the response body before botocore parses the rest of the page
    (counts, ``LastEvaluatedKey``: the paginator still uses the parsed key). Same answer on AWS and
    on any endpoint; only binary values differ from boto3's, staying base64 text.
    """
    return [item for page in item_pages(dynamodb, operation, **params) for item in page]


def item_pages(dynamodb: Any, operation: str, **params: Any) -> Iterator[list[dict[str, Any]]]:
    """:func:`read_items` a page at a time, for readers that must not hold every item at once.

    Consume it in the thread that started it (the raw-items switch is a context variable).
    """
    if operation not in ("Query", "Scan"):
        raise ValueError(f"read_items reads Query or Scan pages, not {operation!r}")
    dynamodb.meta.events.register(
        f"before-parse.dynamodb.{operation}", _take_raw_items, unique_id=f"{_HANDLER_ID}-{operation}"
    )
    token = _reading_raw_items.set(True)
    try:
        for page in dynamodb.get_paginator(operation.lower()).paginate(**params):
            yield [plain_item(item) for item in page.get("Items", [])]
    finally:
        _reading_raw_items.reset(token)


def _take_raw_items(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore ``before-parse`` hook: move a successful page's ``Items`` past the parser, unparsed."""
    if not _reading_raw_items.get() or response_dict.get("status_code") != 200:
        return
    page = json.loads(response_dict["body"])
    items = page.pop("Items", None)
    if items is not None:
        response_dict["body"] = json.dumps(page).encode()
        customized_response_dict["Items"] = items
