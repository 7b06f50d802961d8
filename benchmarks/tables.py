"""The exactly-once write path against a plain ``pyarrow.dataset.write_dataset`` of the same rows.

Run: .venv/bin/python benchmarks/tables.py [--rows 1000000] [--days 30]
Both write the same Arrow table (16 order columns) partitioned by order date, zstd Parquet, to the
same S3 endpoint: a local AWS stack started for the run (``python -m lambdapipe_local``, its own
process). Measured once each, in order: the first write of every row, a rewrite of every row
(``commit_run`` replacing the run key vs ``existing_data_behavior="delete_matching"``), and a
rewrite of one day. Target (issue 6): our path <= 1.5x the plain write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from machine import reported  # benchmarks/, the script's folder
from pyarrow.fs import S3FileSystem

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import conform_table
from lambdapipe.tables.writer import commit_run
from lambdapipe.utils.child_processes import spawn

BUCKET = "lambdapipe-bench"
FIRST_DAY = dt.date(2026, 1, 1)
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"]
COUNTRIES = ["US", "DE", "GB", "JP", "CH", "FR", "NL"]


def start_local_aws() -> tuple[subprocess.Popen[str], str]:
    """An empty stack that saves nothing (`lambdapipe local` keeps its state in ~/.lambdapipe by default)."""
    process = spawn(
        [sys.executable, "-m", "lambdapipe_local", "--port", "0", "--ephemeral"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in process.stdout:
        if "listening on " in line:
            return process, line.split("listening on ")[1].strip()
    raise RuntimeError("the local AWS stack did not start")


def order_rows(schema: pa.Schema, rows: int, days: int) -> pa.Table:
    """``rows`` orders (16 columns) spread evenly over ``days`` days, typed as the orders table stores them."""
    index = pa.array(range(rows), pa.int64())
    day = pc.divide(pc.multiply(index, days), rows)
    seconds = pc.multiply(pc.cast(day, pa.int64()), 86_400)
    created = pc.cast(
        pc.add(pc.multiply(pc.add(seconds, pc.bit_wise_and(index, 65_535)), 1_000_000), _epoch_us()),
        pa.timestamp("us", tz="UTC"),
    )
    money = pa.array([Decimal(100 + (i % 4096) * 7).scaleb(-2) for i in range(rows)], pa.decimal128(18, 2))
    columns = {
        "order_id": pa.array([f"o-{i:08d}" for i in range(rows)]),
        "customer_id": pa.array([f"c-{i % 50_000:05d}" for i in range(rows)]),
        "created_at": created,
        "order_date": pc.cast(created, pa.date32()),
        "status": pa.array(["paid"] * rows),
        "currency": pa.array([CURRENCIES[i % len(CURRENCIES)] for i in range(rows)]),
        "shipping_country": pa.array([COUNTRIES[i % len(COUNTRIES)] for i in range(rows)]),
        "item_count": pc.cast(pc.add(pc.bit_wise_and(index, 7), 1), pa.int32()),
        "quantity_total": pc.cast(pc.add(pc.bit_wise_and(index, 15), 1), pa.int32()),
        "order_total": money,
        "order_total_usd": money,
        "usd_per_unit": pa.array([Decimal("1.080000")] * rows),
        "rates_version": pa.array(["2026-01-static"] * rows),
        "anomalies": pa.array([[] for _ in range(rows)], pa.list_(pa.string())),
        "dag_id": pa.array(["orders_backfill"] * rows),
        "run_id": pa.array(["backfill-1"] * rows),
    }
    # Columns other pipelines added to the orders table stay null, in both writes alike.
    return conform_table(pa.table(columns), schema, table_name="orders")


def _epoch_us() -> int:
    return int(dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC).timestamp() * 1_000_000)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def plain_write(data: pa.Table, filesystem: S3FileSystem, behavior: str) -> None:
    ds.write_dataset(
        data,
        f"{BUCKET}/plain/orders",
        format="parquet",
        filesystem=filesystem,
        partitioning=ds.partitioning(pa.schema([("order_date", pa.date32())]), flavor="hive"),
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        existing_data_behavior=behavior,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    server, endpoint = start_local_aws()
    try:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",  # defines `orders`
            }
        )
        with tempfile.TemporaryDirectory() as scratch:
            config = TablesConfig(
                catalog_uri=f"sqlite:///{Path(scratch) / 'catalog.db'}",
                warehouse=f"s3://{BUCKET}/warehouse",
                aws_conn_id=None,
                create_bucket=True,
            )
            table = ensure_table("orders", config)
            data = order_rows(table.schema().as_arrow(), args.rows, args.days)
            one_day = data.filter(pc.equal(data["order_date"], pa.scalar(FIRST_DAY, pa.date32())))
            filesystem = S3FileSystem(
                endpoint_override=endpoint, access_key="testing", secret_key="testing", region="us-east-1"
            )
            run_key = {"dag_id": "orders_backfill", "run_id": "backfill-1"}
            day_key = {"order_date": FIRST_DAY}
            load_before = os.getloadavg()
            results = [
                (
                    f"{data.num_rows:,} rows, {args.days} days: first write",
                    timed(lambda: commit_run(table, data, run_key)),
                    timed(lambda: plain_write(data, filesystem, "overwrite_or_ignore")),
                ),
                (
                    f"{data.num_rows:,} rows again: replace (same run key)",
                    timed(lambda: commit_run(table, data, run_key)),
                    timed(lambda: plain_write(data, filesystem, "delete_matching")),
                ),
                (
                    f"one day ({one_day.num_rows:,} rows): replace",
                    timed(lambda: commit_run(table, one_day, day_key)),
                    timed(lambda: plain_write(one_day, filesystem, "delete_matching")),
                ),
            ]
            load_after = os.getloadavg()
            stored = table.scan().count()
    finally:
        server.terminate()
        server.wait()

    width = max(len(name) for name, _, _ in results)
    print(f"{'operation':<{width}}  commit_run (s)  write_dataset (s)  ratio")
    for name, ours, plain in results:
        print(f"{name:<{width}}  {ours:14.2f}  {plain:17.2f}  {ours / plain:5.2f}x")
    print(f"rows in the table afterwards: {stored:,} (expected {data.num_rows:,})")
    print(
        f"load average (1/5/15 min) before: {_load(load_before)}, after: {_load(load_after)}; cores: {os.cpu_count()}"
    )
    return 0 if stored == data.num_rows else 1


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    sys.exit(reported(main))
