"""Where LambdaMapOperator's items come from: S3 objects, S3 JSON lines, a DynamoDB query."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from airflow.sdk import DAG

from lambdapipe.fanout.items import ItemSourceError, dynamodb_items, s3_items
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe_local import LocalAws
from tests.support.dag_runs import task_states
from tests.support.dag_test import read_jsonl, run_dag, xcom

BUCKET = "inputs"
ORDERS = [
    {"pk": "shop-1", "sk": 1, "price": Decimal("0.1"), "total": Decimal("100000000000000000001")},
    {"pk": "shop-1", "sk": 2, "price": Decimal("19.99"), "lines": {"qty": 3, "ratio": Decimal("2.5")}},
    {"pk": "shop-1", "sk": 3, "tags": {Decimal(2), Decimal(1)}, "note": "gift"},
    {"pk": "shop-2", "sk": 1, "price": Decimal("5")},
]
# DynamoDB numbers arrive exactly: integral ones as int, others as their decimal text (never a float).
SHOP_1_ITEMS = [
    {"pk": "shop-1", "sk": 1, "price": "0.1", "total": 100000000000000000001},
    {"pk": "shop-1", "sk": 2, "price": "19.99", "lines": {"qty": 3, "ratio": "2.5"}},
    {"pk": "shop-1", "sk": 3, "tags": [1, 2], "note": "gift"},
]
SHOP_1_QUERY = {
    "TableName": "orders",
    "KeyConditionExpression": "pk = :pk",
    "ExpressionAttributeValues": {":pk": {"S": "shop-1"}},
}


@pytest.fixture
def inputs(aws: LocalAws) -> Any:
    """An S3 bucket with two JSON-lines objects and a folder marker, and an ``orders`` table."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="batch/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="batch/a.jsonl", Body=b'{"n": 1}\n\n{"n": 2}\n')
    s3.put_object(Bucket=BUCKET, Key="batch/b.jsonl", Body=b'{"n": 3}\n')
    s3.put_object(Bucket=BUCKET, Key="broken/c.jsonl", Body=b'{"n": 4}\nnot json\n')
    aws.client("dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table = _table(aws)
    for order in ORDERS:
        table.put_item(Item=order)
    return s3


def _table(aws: LocalAws) -> Any:
    import boto3

    resource = boto3.resource(
        "dynamodb",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return resource.Table("orders")


def test_s3_objects_mode_gives_one_item_per_object_and_skips_folder_markers(inputs: Any) -> None:
    items = s3_items(inputs, f"s3://{BUCKET}/batch/", "objects")

    assert [(item["bucket"], item["key"], item["size"]) for item in items] == [
        (BUCKET, "batch/a.jsonl", 19),
        (BUCKET, "batch/b.jsonl", 9),
    ]
    assert all(len(item["etag"]) == 32 and '"' not in item["etag"] for item in items)


def test_s3_jsonl_mode_gives_one_item_per_line_in_key_order_and_names_a_bad_line(inputs: Any) -> None:
    assert s3_items(inputs, f"s3://{BUCKET}/batch/", "jsonl") == [{"n": 1}, {"n": 2}, {"n": 3}]
    with pytest.raises(ItemSourceError, match=r"s3://inputs/broken/c.jsonl line 2 is not JSON"):
        s3_items(inputs, f"s3://{BUCKET}/broken/", "jsonl")
    with pytest.raises(ItemSourceError, match=r"items_s3_uri must look like s3://bucket/prefix"):
        s3_items(inputs, "inputs/batch/", "jsonl")
    with pytest.raises(ItemSourceError, match=r"items_s3_format must be 'objects' or 'jsonl'"):
        s3_items(inputs, f"s3://{BUCKET}/batch/", "csv")


def test_a_dynamodb_query_gives_every_page_of_items_with_exact_numbers(aws: LocalAws, inputs: Any) -> None:
    items = dynamodb_items(aws.client("dynamodb"), SHOP_1_QUERY | {"Limit": 2})

    assert items == SHOP_1_ITEMS
    assert json.loads(json.dumps(items)) == SHOP_1_ITEMS
    with pytest.raises(ItemSourceError, match="items_dynamodb_query needs TableName"):
        dynamodb_items(aws.client("dynamodb"), {"KeyConditionExpression": "pk = :pk"})


def test_the_operator_maps_over_s3_json_lines_and_dynamodb_query_results(
    aws: LocalAws, aws_connection: str, inputs: Any, make_function: Callable[..., str]
) -> None:
    make_function("echo", "echo")
    inputs.create_bucket(Bucket="results")
    with DAG(dag_id="map_item_sources", schedule=None) as dag:
        LambdaMapOperator(
            task_id="from_s3",
            function_name="echo",
            items_s3_uri=f"s3://{BUCKET}/batch/",
            items_s3_format="jsonl",
            results_bucket="results",
        )
        LambdaMapOperator(
            task_id="from_dynamodb",
            function_name="echo",
            items_dynamodb_query=SHOP_1_QUERY,
            results_bucket="results",
        )

    run = run_dag(dag)

    assert task_states(run) == {"from_s3": "success", "from_dynamodb": "success"}
    for task_id, expected in (("from_s3", [{"n": 1}, {"n": 2}, {"n": 3}]), ("from_dynamodb", SHOP_1_ITEMS)):
        results = sorted(
            read_jsonl(inputs, xcom(run, task_id)["results_uri"]), key=lambda line: line["index"]
        )
        assert [line["result"] for line in results] == [{"received": item} for item in expected]
