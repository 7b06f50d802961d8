"""Maintenance expires old snapshots and deletes orphan files, and never a file a kept snapshot reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.maintenance import (
    expire_snapshots,
    find_orphan_files,
    live_files,
    remove_orphan_files,
    run_maintenance,
)
from lambdapipe.tables.query import read_table
from lambdapipe.tables.writer import commit_run
from lambdapipe_local import LocalAws
from tests.support.dag_runs import task_states, xcom_return_values
from tests.support.order_rows import order_table, run_key

REPO_ROOT = Path(__file__).resolve().parents[3]


def keys(aws: LocalAws, config: TablesConfig) -> set[str]:
    """Every object in the warehouse bucket, as s3:// URIs."""
    bucket = config.warehouse_bucket
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {f"s3://{bucket}/{item['Key']}" for page in pages for item in page.get("Contents", [])}


def put(aws: LocalAws, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"not referenced by any snapshot")
    return uri


def data_files(table, snapshot_id: int | None = None) -> set[str]:
    return {task.file.file_path for task in table.scan(snapshot_id=snapshot_id).plan_files()}


def later(minutes: int = 1) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


@pytest.fixture
def history(orders) -> dict[str, set[str]]:
    """r1, r2, then a re-run of r1: the first r1 files are only read by older snapshots."""
    commit_run(orders, order_table("r1", 20), run_key("r1"))
    first_r1 = data_files(orders)
    commit_run(orders, order_table("r2", 10), run_key("r2"))
    commit_run(orders, order_table("r1", 20, tag="rerun-"), run_key("r1"))
    return {"first_r1": first_r1, "current": data_files(orders)}


def test_dry_run_plans_and_real_run_deletes_only_orphans_older_than_the_window(
    aws: LocalAws, tables_config: TablesConfig, orders, history: dict[str, set[str]]
) -> None:
    location = orders.location()
    planted = {
        put(aws, f"{location}/data/order_date=2026-01-15/planted-orphan.parquet"),
        put(aws, f"{location}/metadata/99999-planted.metadata.json"),
    }
    elsewhere = put(aws, f"{location}_archive/data/not-this-tables.parquet")  # a prefix sibling
    expired = expire_snapshots(orders, older_than=later(), retain_last=1)
    expected_live = history["current"] | {orders.metadata_location, orders.current_snapshot().manifest_list}
    rows = read_table(orders)
    before = keys(aws, tables_config)

    within_window = find_orphan_files(orders, older_than=later(-60))
    dry = remove_orphan_files(orders, older_than=later(), dry_run=True)
    after_dry = keys(aws, tables_config)
    real = remove_orphan_files(orders, older_than=later())

    assert len(expired.expired_snapshot_ids) == 3 and expired.kept_snapshots == 1
    assert within_window == []  # every file is younger than an hour: nothing may go
    planned = {orphan.path for orphan in dry.files}
    assert planted | history["first_r1"] <= planned
    assert not planned & expected_live
    assert elsewhere not in planned
    assert after_dry == before
    assert [orphan.path for orphan in real.files] == sorted(planned)
    assert keys(aws, tables_config) == before - planned
    assert expected_live <= keys(aws, tables_config)
    assert read_table(orders).equals(rows)


def test_files_of_every_kept_snapshot_survive_a_real_run(
    aws: LocalAws, tables_config: TablesConfig, orders, history: dict[str, set[str]]
) -> None:
    kept = [snapshot.snapshot_id for snapshot in orders.snapshots()]
    contents = {snapshot_id: read_table(orders, snapshot_id=snapshot_id) for snapshot_id in kept}
    orphan = put(aws, f"{orders.location()}/data/planted-orphan.parquet")

    result = run_maintenance(
        orders,
        snapshot_max_age=dt.timedelta(days=7),
        retain_last=1,
        orphan_min_age=dt.timedelta(minutes=-1),  # a window in the future: every orphan is old enough
        dry_run=False,
    )

    assert result["expire"]["expired_snapshot_ids"] == []  # all younger than 7 days
    assert result["orphans"]["paths"] == [orphan]
    assert history["first_r1"] <= keys(aws, tables_config)
    assert {f"s3://{path}" for path in live_files(orders)} <= keys(aws, tables_config)
    for snapshot_id, expected in contents.items():
        assert read_table(orders, snapshot_id=snapshot_id).equals(expected)


def test_retain_last_keeps_the_newest_snapshots_even_when_old(orders, history: dict[str, set[str]]) -> None:
    newest_two = sorted(orders.snapshots(), key=lambda s: s.timestamp_ms)[-2:]

    result = expire_snapshots(orders, older_than=later(), retain_last=2, dry_run=True)
    expired = expire_snapshots(orders, older_than=later(), retain_last=2)

    assert result.expired_snapshot_ids == expired.expired_snapshot_ids
    assert {s.snapshot_id for s in orders.snapshots()} == {s.snapshot_id for s in newest_two}


def test_the_maintenance_dag_runs_every_table_and_skips_those_not_created(connections: TablesConfig) -> None:
    from airflow.dag_processing.dagbag import DagBag

    orders = ensure_table("orders", connections)
    commit_run(orders, order_table("r1", 5), run_key("r1"))
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "table_maintenance.py")).dags["table_maintenance"]

    run = dag.test(run_conf={"dry_run": False})

    assert set(task_states(run).values()) == {"success"}
    results = xcom_return_values(run)
    assert results["maintain_uploads"] == {"table": "uploads", "skipped": "not created yet"}
    assert results["maintain_orders"]["expire"]["kept_snapshots"] == 1
    assert results["maintain_orders"]["orphans"] == {
        "table": "lambdapipe.orders",
        "dry_run": False,
        "files": 0,
        "bytes": 0,
        "paths": [],
    }
