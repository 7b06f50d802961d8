"""DynamoDB's wire format as plain JSON, and ``read_items``: every page's items without botocore's parser.

Checked against the answer boto3 itself gives (the same pages parsed by botocore, then converted), on
the local AWS stack reached over HTTP as AWS is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdapipe.events.dynamodb_json import UnknownAttributeTypeError, plain_item, plain_value, read_items
from lambdapipe_local import LocalAws

ITEMS = 250  # with Limit=40: seven pages


def _item(number: int) -> dict[str, Any]:
    return {
        "pk": {"S": "orders"},
        "sk": {"N": str(number)},
        "name": {"S": f"order {number} · ünïcode"},
        "total": {"N": f"{number}.50"},
        "paid": {"BOOL": number % 2 == 0},
        "note": {"NULL": True},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{number}"}, "qty": {"N": "2"}}}]},
        "tags": {"SS": ["b", "a"]},
        "sizes": {"NS": ["10", "2.5"]},
    }


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with LocalAws(check_signatures=True) as aws:
        client = aws.client("dynamodb")
        client.create_table(
            TableName="items",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for start in range(0, ITEMS, 25):
            batch = [
                {"PutRequest": {"Item": _item(number)}} for number in range(start, min(start + 25, ITEMS))
            ]
            client.batch_write_item(RequestItems={"items": batch})
        client.put_item(
            TableName="items", Item={"pk": {"S": "blobs"}, "sk": {"N": "1"}, "raw": {"B": b"\x00\xff"}}
        )
        yield client


def _parsed_by_botocore(dynamodb: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    pages = dynamodb.get_paginator(operation.lower()).paginate(**params)
    return [plain_item(item) for page in pages for item in page["Items"]]


def test_query_pages_read_raw_equal_what_botocore_parses(dynamodb: Any) -> None:
    query = {"TableName": "items", "KeyConditionExpression": "pk = :pk", "Limit": 40}
    query["ExpressionAttributeValues"] = {":pk": {"S": "orders"}}

    items = read_items(dynamodb, "Query", **query)

    assert len(items) == ITEMS  # every page, not only the first
    assert items == _parsed_by_botocore(dynamodb, "Query", **query)
    assert items[3] == {
        "pk": "orders",
        "sk": 3,
        "name": "order 3 · ünïcode",
        "total": "3.50",
        "paid": False,
        "note": None,
        "lines": [{"sku": "sku-3", "qty": 2}],
        "tags": ["a", "b"],
        "sizes": ["2.5", 10],
    }


def test_parallel_scan_segments_read_raw_cover_the_table_once(dynamodb: Any) -> None:
    segments = [
        read_items(dynamodb, "Scan", TableName="items", Segment=segment, TotalSegments=3, Limit=50)
        for segment in range(3)
    ]

    keys = sorted((item["pk"], item["sk"]) for segment in segments for item in segment)
    assert keys == sorted([("orders", number) for number in range(ITEMS)] + [("blobs", 1)])


def test_binary_values_stay_base64_text_as_on_the_wire(dynamodb: Any) -> None:
    query = {"TableName": "items", "KeyConditionExpression": "pk = :pk"}
    (item,) = read_items(dynamodb, "Query", **query, ExpressionAttributeValues={":pk": {"S": "blobs"}})
    assert item["raw"] == "AP8="


def test_other_calls_on_the_same_client_are_parsed_by_botocore_as_usual(dynamodb: Any) -> None:
    query = {"TableName": "items", "KeyConditionExpression": "pk = :pk"}
    query["ExpressionAttributeValues"] = {":pk": {"S": "blobs"}}
    read_items(dynamodb, "Query", **query)
    seen_in_other_thread: list[Any] = []

    def query_elsewhere() -> None:  # a thread of its own, while nothing reads raw there
        seen_in_other_thread.append(dynamodb.query(**query)["Items"][0]["raw"])

    thread = threading.Thread(target=query_elsewhere)
    thread.start()
    thread.join()

    assert dynamodb.query(**query)["Items"][0]["raw"] == {"B": b"\x00\xff"}
    assert seen_in_other_thread == [{"B": b"\x00\xff"}]


def test_an_error_answer_still_raises_the_service_error(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        read_items(dynamodb, "Scan", TableName="no-such-table")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_only_query_and_scan_can_be_read_raw(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="reads Query or Scan pages, not 'GetItem'"):
        read_items(dynamodb, "GetItem", TableName="items")


def test_an_unknown_attribute_type_is_named() -> None:
    with pytest.raises(UnknownAttributeTypeError, match="'X'"):
        plain_value({"X": "1"})
