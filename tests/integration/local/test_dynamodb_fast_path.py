"""DynamoDB Query/Scan fast path: every answer equals stock moto's, byte for byte.

Each request is sent twice in-process over WSGI, on the same moto backend the local stack serves:
once through the stack as served (``AwsRequestMiddleware`` -> ``DynamoDbFastPath`` -> moto's app)
and once through ``AwsRequestMiddleware`` -> moto's app alone. Status, headers (but the request id)
and body must be identical. Pages are followed by the fast path's ``LastEvaluatedKey``, so whole
paginations (over 1 MB, backwards, per parallel-scan segment) are compared page by page.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.config import Config
from werkzeug.test import Client

from lambdapipe_local import LocalAws
from lambdapipe_local.admin.calls import CallCounter
from lambdapipe_local.admin.faults import FaultInjector, FaultRule
from lambdapipe_local.front.middleware import AwsRequestMiddleware
from lambdapipe_local.moto_backend.dynamodb_api import DynamoDbFastPath, item_size

AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260401/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)
Compare = Callable[[str, dict[str, Any]], dict[str, Any]]
# Bucket b2 of the orders table through its by_time index: 90 items.
B2_BY_TIME = {
    "TableName": "orders",
    "IndexName": "by_time",
    "KeyConditionExpression": "#b = :p",
    "ExpressionAttributeNames": {"#b": "bucket"},
    "ExpressionAttributeValues": {":p": {"S": "b2"}},
}


@pytest.fixture
def tables(aws: LocalAws) -> Any:
    """``orders`` (hash key, two GSIs) and ``events`` (hash + range, an LSI), loaded through boto3."""
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": "bucket", "AttributeType": "S"},
            {"AttributeName": "order_time", "AttributeType": "S"},
            {"AttributeName": "amount", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_time",
                "KeySchema": [
                    {"AttributeName": "bucket", "KeyType": "HASH"},
                    {"AttributeName": "order_time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_amount",
                "KeySchema": [
                    {"AttributeName": "bucket", "KeyType": "HASH"},
                    {"AttributeName": "amount", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "score", "AttributeType": "N"},
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_score",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    orders = [order(number) for number in range(300)]
    events = [event(number) for number in range(120)]
    for table, items in (("orders", orders), ("events", events)):
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={table: batch})
    return dynamodb


def order(number: int) -> dict[str, Any]:
    """Every attribute type, nested; equal order times across buckets so GSI ties need the table key."""
    item: dict[str, Any] = {
        "order_id": {"S": f"o-{number:04d}"},
        "bucket": {"S": f"b{number % 3}"},
        "order_time": {"S": f"2026-04-01T12:{number % 60:02d}"},
        "amount": {"N": str(number % 17 * 1.5)},
        "paid": {"BOOL": number % 2 == 0},
        "coupon": {"NULL": True},
        "tags": {"SS": [f"t{number % 4}", "all"]},
        "sizes": {"NS": ["1", str(number)]},
        "blob": {"B": base64.b64encode(bytes([number % 256, 0, 255]))},
        "blobs": {"BS": [b"\x00\x01", bytes([number % 256])]},
        "lines": {
            "L": [
                {"M": {"sku": {"S": f"sku-{line}"}, "qty": {"N": str(line + 1)}, "gift": {"BOOL": False}}}
                for line in range(number % 4)
            ]
        },
        "customer": {"M": {"name": {"S": f"Ünïcode ☃ {number}"}, "address": {"M": {"zip": {"S": "0"}}}}},
    }
    if number % 10 == 0:
        del item["order_time"]  # not in the by_time index
    return item


def event(number: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"p{number % 4}"},
        "sk": {"N": str(number)},
        "score": {"N": str(number * 7 % 50 - 10)},
        "note": {"S": f"note {number}"},
        "other": {"S": "x" * (number % 9)},
    }


@pytest.fixture
def compare(tables: Any) -> Compare:
    """Send a request through both stacks, assert identical responses, return the parsed answer."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    fast = Client(AwsRequestMiddleware(DynamoDbFastPath(moto_app), FaultInjector(), CallCounter()))
    stock = Client(AwsRequestMiddleware(moto_app, FaultInjector(), CallCounter()))

    def send(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request)
        headers = {
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": AUTHORIZATION,
        }
        answers = [answer(client, body, headers) for client in (fast, stock)]
        fast_answer, stock_answer = answers
        if isinstance(stock_answer, Exception):  # moto fails; the served stack answers 500 for it
            assert repr(fast_answer) == repr(stock_answer), request
            return {"status": 500, "raised": stock_answer}
        assert fast_answer.status == stock_answer.status
        assert fast_answer.get_data() == stock_answer.get_data(), request
        assert without_request_id(fast_answer.headers) == without_request_id(stock_answer.headers)
        return {"status": fast_answer.status_code, **json.loads(fast_answer.get_data() or b"{}")}

    return send


def answer(client: Client, body: str, headers: dict[str, str]) -> Any:
    try:
        return client.post("/", data=body, headers=headers)
    except Exception as error:  # compared with the other stack's
        return error


def without_request_id(headers: Any) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in headers.items() if name.lower() != "x-amzn-requestid")


def all_pages(compare: Compare, operation: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [compare(operation, request)]
    while "LastEvaluatedKey" in pages[-1]:
        pages.append(compare(operation, {**request, "ExclusiveStartKey": pages[-1]["LastEvaluatedKey"]}))
    return pages


def items_of(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page.get("Items", [])]


QUERIES = {
    "table hash key": {"TableName": "events", "KeyConditionExpression": "pk = :p"},
    "table range condition": {
        "TableName": "events",
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":low": {"N": "10"}, ":high": {"N": "90"}},
    },
    "table descending, limit": {
        "TableName": "events",
        "KeyConditionExpression": "pk = :p AND sk > :low",
        "ExpressionAttributeValues": {":low": {"N": "30"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    "gsi with sort key condition, filter and projection": {
        "TableName": "orders",
        "IndexName": "by_time",
        "KeyConditionExpression": "#b = :p AND order_time >= :t",
        "FilterExpression": "amount > :a AND contains(tags, :tag)",
        "ProjectionExpression": "order_id, #b, customer.#n, lines[0].sku, #bl",
        "ExpressionAttributeNames": {"#b": "bucket", "#n": "name", "#bl": "blob"},
        "ExpressionAttributeValues": {
            ":t": {"S": "2026-04-01T12:20"},
            ":a": {"N": "6"},
            ":tag": {"S": "all"},
        },
        "Limit": 11,
    },
    "gsi descending with begins_with": {
        "TableName": "orders",
        "IndexName": "by_time",
        "KeyConditionExpression": "#b = :p AND begins_with(order_time, :t)",
        "ExpressionAttributeNames": {"#b": "bucket"},
        "ExpressionAttributeValues": {":t": {"S": "2026-04-01T12:1"}},
        "ScanIndexForward": False,
        "Limit": 5,
    },
    "keys-only gsi on a number range key": {
        "TableName": "orders",
        "IndexName": "by_amount",
        "KeyConditionExpression": "#b = :p AND amount < :a",
        "ExpressionAttributeNames": {"#b": "bucket"},
        "ExpressionAttributeValues": {":a": {"N": "12"}},
        "Limit": 9,
    },
    "lsi with include projection": {
        "TableName": "events",
        "IndexName": "by_score",
        "KeyConditionExpression": "pk = :p AND score >= :s",
        "ExpressionAttributeValues": {":s": {"N": "0"}},
        "Limit": 6,
    },
    "count with consumed capacity by index": {
        "TableName": "orders",
        "IndexName": "by_time",
        "KeyConditionExpression": "#b = :p",
        "ExpressionAttributeNames": {"#b": "bucket"},
        "Select": "COUNT",
        "ReturnConsumedCapacity": "INDEXES",
        "Limit": 13,
    },
    "consistent read with total capacity": {
        "TableName": "events",
        "KeyConditionExpression": "pk = :p",
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
        "Limit": 10,
    },
    "legacy key conditions (answered by moto)": {
        "TableName": "events",
        "KeyConditions": {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "P"}]},
            "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "20"}]},
        },
        "Limit": 7,
    },
}


@pytest.mark.parametrize("name", QUERIES)
def test_query_pages_equal_stock_moto(compare: Compare, name: str) -> None:
    request = json.loads(json.dumps(QUERIES[name]).replace('"P"', '"p1"'))
    partition = "p1" if request["TableName"] == "events" else "b1"
    request.setdefault("ExpressionAttributeValues", {})
    if "KeyConditions" in request:
        del request["ExpressionAttributeValues"]
    else:
        request["ExpressionAttributeValues"][":p"] = {"S": partition}

    pages = all_pages(compare, "Query", request)

    assert [page["status"] for page in pages] == [200] * len(pages), pages[-1]
    assert sum(page["Count"] for page in pages) > 0


SCANS = {
    "whole table, limit": {"TableName": "orders", "Limit": 37},
    "gsi": {"TableName": "orders", "IndexName": "by_time", "Limit": 41},
    "keys-only gsi with count": {
        "TableName": "orders",
        "IndexName": "by_amount",
        "Select": "COUNT",
        "Limit": 50,
    },
    "filter and projection": {
        "TableName": "events",
        "FilterExpression": "score BETWEEN :low AND :high OR attribute_not_exists(note)",
        "ProjectionExpression": "pk, sk, note",
        "ExpressionAttributeValues": {":low": {"N": "-5"}, ":high": {"N": "20"}},
        "Limit": 17,
        "ReturnConsumedCapacity": "TOTAL",
    },
    "lsi": {"TableName": "events", "IndexName": "by_score", "Limit": 19},
    "legacy scan filter (answered by moto)": {
        "TableName": "events",
        "ScanFilter": {"score": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "0"}]}},
        "Limit": 23,
    },
}


@pytest.mark.parametrize("name", SCANS)
def test_scan_pages_equal_stock_moto(compare: Compare, name: str) -> None:
    pages = all_pages(compare, "Scan", SCANS[name])

    assert all(page["status"] == 200 for page in pages)
    assert len(pages) > 1


@pytest.mark.parametrize("index", [None, "by_time"])
def test_parallel_scan_segments_equal_stock_moto_and_cover_the_table_once(
    compare: Compare, index: str | None
) -> None:
    request: dict[str, Any] = {"TableName": "orders", "TotalSegments": 4, "Limit": 20}
    if index:
        request["IndexName"] = index
    seen = [
        item["order_id"]["S"]
        for segment in range(4)
        for item in items_of(all_pages(compare, "Scan", {**request, "Segment": segment}))
    ]

    assert len(seen) == len(set(seen)) == (270 if index else 300)


def test_pages_split_at_one_megabyte_as_in_stock_moto(compare: Compare, tables: Any) -> None:
    tables.create_table(
        TableName="large",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, 300, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": "all"}, "sk": {"S": f"{n:05d}"}, "data": {"S": "d" * 9000}}}}
            for n in range(start, start + 25)
        ]
        tables.batch_write_item(RequestItems={"large": batch})

    queried = all_pages(
        compare,
        "Query",
        {
            "TableName": "large",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "all"}},
        },
    )
    scanned = all_pages(compare, "Scan", {"TableName": "large"})

    assert [page["Count"] for page in queried] == [page["Count"] for page in scanned] == [110, 110, 80]
    assert [item["sk"]["S"] for item in items_of(queried)] == [f"{n:05d}" for n in range(300)]


def test_item_size_counts_every_attribute_type_as_moto_does(tables: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    items = [item for name in ("orders", "events") for item in backend.get_table(name).all_items()]

    assert [item_size(item) for item in items] == [item.size() for item in items]


ERRORS = {
    "unknown table": ("Query", {"TableName": "missing", "KeyConditionExpression": "pk = :p"}),
    "unknown index": (
        "Query",
        {"TableName": "events", "IndexName": "nope", "KeyConditionExpression": "pk = :p"},
    ),
    "consistent read on a gsi": (
        "Query",
        {
            "TableName": "orders",
            "IndexName": "by_time",
            "ConsistentRead": True,
            "KeyConditionExpression": "bucket = :p",
        },
    ),
    "key condition on a non-key attribute": (
        "Query",
        {"TableName": "events", "KeyConditionExpression": "note = :p"},
    ),
    "unused attribute name": (
        "Query",
        {"TableName": "events", "KeyConditionExpression": "pk = :p", "ExpressionAttributeNames": {"#x": "x"}},
    ),
    "bad select": ("Query", {"TableName": "events", "KeyConditionExpression": "pk = :p", "Select": "SOME"}),
    "bad consumed capacity": (
        "Scan",
        {"TableName": "events", "ReturnConsumedCapacity": "ALL"},
    ),
    "segment without total": ("Scan", {"TableName": "events", "Segment": 1}),
    "segment out of range": ("Scan", {"TableName": "events", "Segment": 4, "TotalSegments": 4}),
    "unknown index to scan": ("Scan", {"TableName": "events", "IndexName": "nope"}),
    "empty filter expression": ("Scan", {"TableName": "events", "FilterExpression": ""}),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_equal_stock_moto(compare: Compare, name: str) -> None:
    operation, request = ERRORS[name]
    if "KeyConditionExpression" in request:
        request = {**request, "ExpressionAttributeValues": {":p": {"S": "p1"}}}

    answer = compare(operation, request)

    assert answer["status"] == 400
    assert answer["__type"].rsplit("#", 1)[-1] in {"ValidationException", "ResourceNotFoundException"}


def test_start_keys_of_other_types_or_missing_attributes_answer_as_stock_moto(compare: Compare) -> None:
    base = {
        "TableName": "orders",
        "IndexName": "by_time",
        "KeyConditionExpression": "#b = :p",
        "ExpressionAttributeNames": {"#b": "bucket"},
        "ExpressionAttributeValues": {":p": {"S": "b1"}},
        "Limit": 3,
    }
    start = compare("Query", base)["LastEvaluatedKey"]
    wrong_type = {**start, "order_time": {"N": "5"}}
    missing = {key: value for key, value in start.items() if key != "order_id"}
    between = {**start, "order_time": {"S": start["order_time"]["S"] + "5"}}  # not an item's key

    answers = [compare("Query", {**base, "ExclusiveStartKey": key}) for key in (wrong_type, missing, between)]

    assert [answer["status"] for answer in answers] == [500, 500, 200]


def test_boto3_paginates_a_gsi_through_the_served_stack_with_calls_counted_and_faults_injected(
    aws: LocalAws, tables: Any
) -> None:
    dynamodb = aws.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}))
    aws.faults.add(FaultRule(service="dynamodb", operation="Query", error="dynamodb_throughput", count=1))
    aws.calls.reset()

    pages = dynamodb.get_paginator("query").paginate(**B2_BY_TIME, PaginationConfig={"PageSize": 25})
    times = [(item["order_time"]["S"], item["order_id"]["S"]) for page in pages for item in page["Items"]]

    assert times == sorted(times) and len(times) == 90
    counts = aws.calls.snapshot().to_dict()
    assert counts["calls"]["dynamodb:Query"] == 1 + 4  # the faulted call, then 4 pages
    assert counts["faults_injected"]["dynamodb:Query"] == 1


def _b2_page(dynamodb: Any, size: int, start: dict[str, Any] | None = None) -> dict[str, Any]:
    return dynamodb.query(**B2_BY_TIME, Limit=size, **({"ExclusiveStartKey": start} if start else {}))


def test_the_pages_of_one_query_sort_its_items_once_not_once_per_page(
    aws: LocalAws, tables: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdapipe_local.moto_backend import dynamodb_api

    sorted_sets: list[int] = []
    real = dynamodb_api._SortedItems.__init__

    def counting(self: Any, items: list[Any], attrs: list[str]) -> None:
        sorted_sets.append(len(items))
        real(self, items, attrs)

    monkeypatch.setattr(dynamodb_api._SortedItems, "__init__", counting)
    dynamodb = aws.client("dynamodb")
    pages = dynamodb.get_paginator("query").paginate(**B2_BY_TIME, PaginationConfig={"PageSize": 10})

    assert sum(len(page["Items"]) for page in pages) == 90  # 9 full pages, then an empty last one
    assert sorted_sets == [90]


def test_a_write_between_two_pages_is_seen_by_the_next_page_as_stock_moto_sees_it(
    aws: LocalAws, tables: Any
) -> None:
    dynamodb = aws.client("dynamodb")
    first = _b2_page(dynamodb, 10)
    dynamodb.put_item(
        TableName="orders",
        Item={"order_id": {"S": "late"}, "bucket": {"S": "b2"}, "order_time": {"S": "2026-04-01T23:59"}},
    )
    dynamodb.delete_item(TableName="orders", Key={"order_id": first["Items"][-1]["order_id"]})  # already read

    rest, start = [], first["LastEvaluatedKey"]
    while start:
        page = _b2_page(dynamodb, 10, start)
        rest.extend(item["order_id"]["S"] for item in page["Items"])
        start = page.get("LastEvaluatedKey")

    assert rest[-1] == "late" and len(rest) == 90 - 10 + 1


def test_a_write_that_lands_while_a_query_sorts_its_items_is_seen_by_the_next_query(
    aws: LocalAws, tables: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's sorted items are kept for its next pages only when no write came while they were
    built. Before, a PutItem replacing an item during the build (the item count unchanged) left the
    old item in the kept order, and every later query of that bucket returned it until the next write."""
    from lambdapipe_local.moto_backend import dynamodb_api

    building, written = threading.Event(), threading.Event()
    real = dynamodb_api._SortedItems.__init__

    def held_until_the_write(self: Any, items: list[Any], attrs: list[str]) -> None:
        if not building.is_set():  # the first build only: it started before the write
            building.set()
            written.wait(timeout=30)
        real(self, items, attrs)

    monkeypatch.setattr(dynamodb_api._SortedItems, "__init__", held_until_the_write)
    dynamodb = aws.client("dynamodb")
    with ThreadPoolExecutor(max_workers=1) as pool:
        first_query = pool.submit(_b2_page, dynamodb, 100)
        assert building.wait(timeout=30), "the first query never sorted its items"
        rewritten = _b2_page(aws.client("dynamodb"), 1)["Items"][0]
        dynamodb.put_item(TableName="orders", Item={**rewritten, "note": {"S": "rewritten"}})
        written.set()
        assert len(first_query.result(timeout=60)["Items"]) == 90

    [seen] = [item for item in _b2_page(dynamodb, 100)["Items"] if item["order_id"] == rewritten["order_id"]]
    assert seen.get("note") == {"S": "rewritten"}
