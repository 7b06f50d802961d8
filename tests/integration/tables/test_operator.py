"""IcebergCommitOperator and commit_rows under ``dag.test()``: real task instances, XCom and Assets.

The local stack is reached only through the ``aws_default`` connection and the catalog settings
only through the ``lambdapipe_tables`` connection, as on a deployment.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk import DAG, task

from lambdapipe.assets import table_asset
from lambdapipe.operators.iceberg import IcebergCommitOperator
from lambdapipe.tables.catalog import load_table, open_catalog
from lambdapipe.tables.commit import commit_rows
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.query import read_table
from lambdapipe_local import LocalAws
from tests.support.dag_runs import asset_events, register, task_states, xcom_return_values

LOGICAL_DATE = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
STAGING = "s3://lambdapipe-staging/uploads/2026-01-15/"
VALID = [
    {
        "order_id": "o-1",
        "created_at": "2026-01-15T10:00:00Z",
        "order_date": "2026-01-15",
        "order_total_usd": "12.50",
    },
    {
        "order_id": "o-2",
        "created_at": "2026-01-15T11:00:00Z",
        "order_date": "2026-01-15",
        "order_total_usd": "7.00",
    },
]
REJECTS = [
    {
        "order_id": "bad-1",
        "reason": "unknown_currency",
        "field": "currency",
        "rejected_at": "2026-01-15T10:00:00Z",
    }
]

pytestmark = pytest.mark.timeout(180)

# orders and order_rejects are replaced per UTC hour (their TableSpec.run_key), whichever run writes it.
HOUR_KEY = {
    "dag_id": "test_table_commit",
    "interval_start": dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC),
    "interval_end": dt.datetime(2026, 1, 15, 11, tzinfo=dt.UTC),
}


def orders_dag() -> DAG:
    with DAG(dag_id="test_table_commit", schedule=None, default_args={"retries": 0}) as dag:

        @task(multiple_outputs=True)
        def transform() -> dict[str, Any]:
            return {"valid": VALID, "rejects": REJECTS}

        @task(outlets=[table_asset("order_rejects")])
        def commit_rejects(rejects: list[dict[str, Any]]) -> dict[str, Any]:
            return commit_rows("order_rejects", rejects, run_key=HOUR_KEY)

        output = transform()
        IcebergCommitOperator(
            task_id="commit_orders", table_name="orders", rows=output["valid"], run_key=HOUR_KEY
        )
        commit_rejects(output["rejects"])
        IcebergCommitOperator(task_id="commit_uploads", table_name="uploads", staging_uri=STAGING)
    return dag


def stage_uploads(aws: LocalAws) -> None:
    """Two Parquet files under the staging prefix, as a Lambda function or a Spark job leaves them."""
    for part, keys in enumerate([["a.png", "b.png"], ["c.png"]]):
        data = pa.table({"bucket": ["uploads"] * len(keys), "key": keys, "status": ["resized"] * len(keys)})
        buffer = io.BytesIO()
        pq.write_table(data, buffer)
        bucket, _, prefix = STAGING.removeprefix("s3://").partition("/")
        aws.client("s3").put_object(Bucket=bucket, Key=f"{prefix}part-{part}.parquet", Body=buffer.getvalue())


def test_a_dag_run_commits_its_rows_once_even_when_its_tasks_run_again(
    aws: LocalAws, connections: TablesConfig
) -> None:
    aws.client("s3").create_bucket(Bucket="lambdapipe-staging")
    stage_uploads(aws)
    dag = orders_dag()
    register(dag)

    first = dag.test(run_after=LOGICAL_DATE, logical_date=LOGICAL_DATE)
    again = dag.test(run_after=LOGICAL_DATE, logical_date=LOGICAL_DATE)  # the same run, cleared and run again

    assert again.run_id == first.run_id
    assert set(task_states(again).values()) == {"success"}
    orders = load_table("orders", connections)
    rejects = load_table("order_rejects", connections)
    assert sorted(read_table(orders).column("order_id").to_pylist()) == ["o-1", "o-2"]
    assert read_table(rejects).column("order_id").to_pylist() == ["bad-1"]
    uploads = read_table(load_table("uploads", connections))
    assert sorted(uploads.column("key").to_pylist()) == ["a.png", "b.png", "c.png"]
    assert set(uploads.column("run_id").to_pylist()) == {first.run_id}
    results = xcom_return_values(again)
    assert results["commit_orders"]["rows"] == 2
    assert results["commit_orders"]["run_key"]["dag_id"] == "test_table_commit"
    assert results["commit_orders"]["run_key"]["interval_start"].startswith("2026-01-15")
    assert results["commit_rejects"]["snapshot_id"] == rejects.metadata.current_snapshot_id
    tags = orders.current_snapshot().summary.additional_properties
    assert (tags["airflow.dag_id"], tags["airflow.run_id"], tags["airflow.task_id"]) == (
        "test_table_commit",
        first.run_id,
        "commit_orders",
    )
    # Each commit, the repeated ones too, told the Asset's consumers which snapshot to read.
    assert asset_events(again) == ["table/order_rejects"] * 2 + ["table/orders"] * 2 + ["table/uploads"] * 2
    assert latest_event_extra("table/orders") == {
        "snapshot_id": orders.metadata.current_snapshot_id,
        "rows": 2,
        "mode": "replace_run",
    }


def latest_event_extra(asset_name: str) -> dict[str, Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == asset_name)
            .order_by(AssetEvent.id.desc())
            .limit(1)
        )
        return session.scalars(query).one()


def test_operator_needs_rows_or_a_staging_location_but_not_both() -> None:
    with pytest.raises(ValueError, match="give exactly one of rows= or staging_uri="):
        IcebergCommitOperator(task_id="commit", table_name="orders")
    with pytest.raises(ValueError, match="give exactly one of rows= or staging_uri="):
        IcebergCommitOperator(task_id="commit", table_name="orders", rows=[], staging_uri="s3://b/k")


def test_operator_declares_the_tables_asset_as_outlet() -> None:
    operator = IcebergCommitOperator(task_id="commit", table_name="uploads", rows=[])

    assert operator.outlets == [table_asset("uploads")]


def test_a_run_key_without_a_declared_column_is_refused_before_anything_is_written(
    aws: LocalAws, connections: TablesConfig
) -> None:
    """A per-run key on a per-hour table would replace rows of other runs; a finer key (per bucket) is fine."""
    with DAG(dag_id="test_coarse_key", schedule=None, default_args={"retries": 0}) as dag:
        IcebergCommitOperator(
            task_id="per_run",
            table_name="orders",
            rows=VALID,
            run_key={"dag_id": "test_coarse_key", "run_id": "manual"},
        )
        IcebergCommitOperator(
            task_id="per_task",
            table_name="uploads",
            rows=[{"bucket": "uploads", "key": "a.png", "status": "resized"}],
            run_key={"dag_id": "test_coarse_key", "run_id": "manual", "bucket": "uploads"},
        )
    register(dag)

    run = dag.test(run_after=LOGICAL_DATE, logical_date=LOGICAL_DATE)

    assert task_states(run) == {"per_run": "failed", "per_task": "success"}
    assert connections.identifier("orders") not in {
        ".".join(identifier) for identifier in open_catalog(connections).list_tables(connections.namespace)
    }
