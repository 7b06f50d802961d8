"""An hour of orders end to end on the local stack: extract -> transform -> commit, timed per stage.

The same steps the ``order_analytics`` DAG's three tasks run, on one busy hour of orders:

- extract: the hour's orders from DynamoDB (GSI query in parallel shards, every page), written page by
  page to S3 parts of <= 1,000 orders plus the parts index and manifest (``lambdapipe_demo.order_staging``);
- transform: one staged part per invocation of ``order_transform:live``, which reads the part and
  writes its answer in S3 (``LambdaMapOperator``'s fan-out engine, results in S3);
- commit: every part's answer checked against the manifest and turned into Arrow rows one part at a
  time, the hour replaced in ``orders``, ``order_lines`` and ``order_rejects`` as one set
  (``lambdapipe_demo.order_facts`` + the tables' exactly-once writer).

Not timed (set-up): the local AWS server started as its own process (so it does not share the GIL with
the pipeline), the orders generated and bulk-loaded with DynamoDB's ImportTable from S3 in a child
process (so this process's peak RSS is the steps'), ``order_transform`` deployed, a throwaway SQLite
Iceberg catalog.

The server is the stock ``lambdapipe local`` stack: DynamoDB Query/Scan pages are answered by its fast
path (``lambdapipe_local.moto_backend.dynamodb_api``: moto's handler without moto's generic response serializer and
per-page re-sort of the table), the rest by moto 5.2.5.

Targets (issue 18): <= 30 s for 100,000 orders and <= 5 min for 1,000,000 with the steps' peak RSS
<= 1 GB, on this 2-core machine.

Run: .venv/bin/python benchmarks/orders.py [--orders 100000] [--concurrency 4] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gzip
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

from tests.support.local_aws_process import local_aws_process  # noqa: E402

TABLE = "orders-benchmark"
PIPELINE_BUCKET = "lambdapipe-pipeline"
HOUR_START = datetime(2026, 4, 1, 12, tzinfo=UTC)
DAG_ID, RUN_ID = "order_analytics_benchmark", "benchmark"


def environment(url: str, home: Path) -> None:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",  # the demo's orders tables
            "LAMBDAPIPE_ORDERS_TABLE": TABLE,
        }
    )


def bulk_load(count: int, invalid_share: float) -> int:
    """Generate the orders and load them with ImportTable (DynamoDB's bulk path); returns the count."""
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    from include.sample_orders import generate_orders
    from lambdapipe_demo.orders import orders_table_definition

    orders = generate_orders(count, start=HOUR_START, hours=1, invalid_share=invalid_share, seed=2026)
    serializer = TypeSerializer()
    lines = (json.dumps({"Item": {k: serializer.serialize(v) for k, v in o.item.items()}}) for o in orders)
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    s3.create_bucket(Bucket="benchmark-import")
    s3.put_object(
        Bucket="benchmark-import", Key="orders/data.json.gz", Body=gzip.compress("\n".join(lines).encode())
    )
    definition = orders_table_definition(TABLE)
    started = dynamodb.import_table(
        S3BucketSource={"S3Bucket": "benchmark-import", "S3KeyPrefix": "orders/"},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters={
            key: definition[key]
            for key in (
                "TableName",
                "AttributeDefinitions",
                "KeySchema",
                "BillingMode",
                "GlobalSecondaryIndexes",
            )
        },
    )
    while True:
        status = dynamodb.describe_import(ImportArn=started["ImportTableDescription"]["ImportArn"])
        description = status["ImportTableDescription"]
        if description["ImportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.5)
    if description["ImportStatus"] != "COMPLETED" or description["ImportedItemCount"] != count:
        raise RuntimeError(f"import ended {description['ImportStatus']}: {description}")
    return count


def set_up(url: str, work: Path) -> None:
    import boto3

    from include.demo_infrastructure import deploy_functions, ensure_bucket

    s3 = boto3.client("s3")
    for bucket in (PIPELINE_BUCKET, "lambdapipe-tables"):
        ensure_bucket(s3, bucket)
    functions = work / "functions"
    functions.mkdir()
    (functions / "order_transform").symlink_to(REPO / "lambda_functions" / "order_transform")
    with contextlib.redirect_stdout(sys.stderr):
        deploy_functions(None, functions)


def extract(window: Any) -> tuple[Any, float]:
    """The DAG's extract step: the hour read page by page into S3 parts. Returns what it staged and
    the seconds."""
    import boto3

    from lambdapipe_demo.order_staging import stage_orders

    clock = time.monotonic()
    staged = stage_orders(
        boto3.client("dynamodb"),
        boto3.client("s3"),
        TABLE,
        [window],
        PIPELINE_BUCKET,
        f"lambdapipe/extract/benchmark/{RUN_ID}",  # where the function's role may read and answer
    )
    return staged, time.monotonic() - clock


def read_with_boto3_deserializer(window: Any) -> tuple[int, float]:
    """Baseline: the same Query pages, four at once, read the textbook way (botocore's parser, then
    boto3's TypeDeserializer), counted page by page. Returns the count and the seconds."""
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    from lambdapipe_demo.orders import bucket_query

    dynamodb, deserializer = boto3.client("dynamodb"), TypeDeserializer()

    def read_bucket(bucket: str) -> int:
        pages = dynamodb.get_paginator("query").paginate(**bucket_query(TABLE, bucket))
        return sum(
            len(
                [
                    {name: deserializer.deserialize(value) for name, value in item.items()}
                    for item in page["Items"]
                ]
            )
            for page in pages
        )

    clock = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        count = sum(pool.map(read_bucket, window.buckets()))
    return count, time.monotonic() - clock


def transform(staged: Any, concurrency: int) -> dict[str, Any]:
    """What LambdaMapOperator does in ``execute`` with the DAG's settings (one staged part per
    invocation, results in S3), minus Airflow."""
    import boto3

    from lambdapipe.fanout import run_store
    from lambdapipe.fanout.batching import make_batches
    from lambdapipe.fanout.engine import FanOutConfig, run_fan_out
    from lambdapipe.fanout.items import s3_items
    from lambdapipe.hooks.lambda_function import LambdaHook
    from lambdapipe.invoking.metrics import TaskIdentity

    s3 = boto3.client("s3")
    items = s3_items(s3, staged.items_uri, "jsonl")
    batches = make_batches(items, max_items=1, max_bytes=1_000_000, batch_input_key="parts")
    location = run_store.RunLocation.for_task(
        PIPELINE_BUCKET, "benchmark/map", DAG_ID, RUN_ID, "transform", -1
    )
    run_store.write_input(s3, location, batches)
    function = LambdaHook(aws_conn_id=None).function_info("order_transform", "live")
    config = FanOutConfig(
        function=dataclasses.asdict(function),
        qualifier="live",
        bucket=location.bucket,
        prefix=location.prefix,
        try_number=1,
        max_concurrency=concurrency,
        batch_input_key="parts",
        progress_interval_s=30,
        task=dataclasses.asdict(TaskIdentity(DAG_ID, RUN_ID, "transform_orders", None, 1)),
    )
    summary = asyncio.run(run_fan_out(config, {"aws_conn_id": None}, lambda line: None))
    if summary["status"] != "succeeded":
        raise RuntimeError(f"fan-out failed: {summary}")
    return summary


def commit(staged: Any, map_summary: dict[str, Any]) -> dict[str, int]:
    """The DAG's record step: every part's answer checked and its rows written to the tables' data
    files one part at a time (``RunSetWriter``'s path, minus Airflow), then the hour replaced in the
    three tables as one set."""
    import boto3

    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.config import load_config
    from lambdapipe.tables.conform import rows_to_arrow
    from lambdapipe.tables.run_files import RunFiles
    from lambdapipe.tables.run_set import commit_files_together
    from lambdapipe.tables.writer import airflow_snapshot_properties
    from lambdapipe_demo import order_facts as facts
    from lambdapipe_demo.order_staging import read_manifest

    s3 = boto3.client("s3")
    expected = read_manifest(s3, staged.manifest_uri)
    config = load_config(None, aws_conn_id=None, create_bucket=True)
    files = {
        name: RunFiles(ensure_table(name, config), [window.run_key(DAG_ID) for window in expected])
        for name in ("orders", "order_lines", "order_rejects")
    }
    facts.read_facts(
        s3,
        PIPELINE_BUCKET,
        expected,
        facts.PartAnswers.from_map(s3, map_summary),
        {"dag_id": DAG_ID, "run_id": RUN_ID},
        datetime.now(UTC),
        add_rows=lambda name, window, rows: files[name].add(window.run_key(DAG_ID), rows_to_arrow(rows)),
    )
    commit_files_together(
        list(files.values()), airflow_snapshot_properties(DAG_ID, RUN_ID, "record_orders", 1)
    )
    return {name: table_files.rows for name, table_files in files.items()}


def bulk_load_elsewhere(count: int, invalid_share: float) -> None:
    """Generate and load the orders in a child process, so this process's peak memory is the steps'."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(bulk_load, count, invalid_share).result()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--invalid-share", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=4, help="invocations in flight (default 4)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the same-run baseline read (minutes at 1,000,000)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lambdapipe-bench-orders-"))
    (work / "aws").mkdir()
    baseline: tuple[int, float] | None = None
    try:
        with local_aws_process(work / "aws") as url:
            environment(url, work / "airflow")
            from lambdapipe_demo.orders import Window

            print(f"local AWS (own process) at {url}")
            set_up(url, work)
            started = time.monotonic()
            bulk_load_elsewhere(args.orders, args.invalid_share)
            print(
                f"set-up: {args.orders:,} orders bulk-loaded with ImportTable in {time.monotonic() - started:.1f} s (not timed)"
            )
            load = os.getloadavg()[0]
            rss_before = peak_rss_mb()
            window = Window(HOUR_START)
            timings: dict[str, float] = {}
            peaks: dict[str, float] = {}
            staged, timings["extract"] = extract(window)
            peaks["extract"] = peak_rss_mb()
            clock = time.monotonic()
            map_summary = transform(staged, args.concurrency)
            timings["transform"] = time.monotonic() - clock
            peaks["transform"] = peak_rss_mb()
            clock = time.monotonic()
            counts = commit(staged, map_summary)
            timings["commit"] = time.monotonic() - clock
            peaks["commit"] = rss_after = peak_rss_mb()
            if not args.no_baseline:
                baseline = read_with_boto3_deserializer(window)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    total = sum(timings.values())
    print(
        f"\n{staged.orders_in:,} orders, one hour, {os.cpu_count()} cores, load average {load:.1f} at start"
    )
    print(f"{'stage':<10} {'seconds':>8} {'orders/s':>10} {'peak RSS MB':>12}")
    for stage, seconds in timings.items():
        print(f"{stage:<10} {seconds:>8.1f} {staged.orders_in / seconds:>10,.0f} {peaks[stage]:>12,.0f}")
    print(
        f"{'total':<10} {total:>8.1f} {staged.orders_in / total:>10,.0f}   "
        "(targets: <= 30 s for 100,000, <= 300 s for 1,000,000)"
    )
    print(
        f"peak RSS of the steps' process: {rss_after:,.0f} MB ({rss_before:,.0f} MB before the first step; "
        "target <= 1,024 MB at 1,000,000)"
    )
    print(
        f"transform: {map_summary['invocations']} invocations of one staged part (<= 1,000 orders) each, "
        f"concurrency {args.concurrency}, {map_summary['invocations_per_s']} invocations/s, "
        f"cost ${map_summary['cost_usd']:.6f}"
    )
    print(f"committed: {counts}")
    if baseline:
        count, seconds = baseline
        print(
            f"extract (read_items + staging {staged.orders_in:,} orders in S3 parts): {timings['extract']:.1f} s; "
            f"baseline, same run, after the pipeline: reading the same {count:,} orders alone with botocore's "
            f"parser + TypeDeserializer took {seconds:.1f} s ({seconds / timings['extract']:.1f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(reported(main))
