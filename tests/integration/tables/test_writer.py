"""commit_run replaces a run key's rows in one snapshot; rows are conformed to the table first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import ConformError, rows_to_arrow
from lambdapipe.tables.query import read_table
from lambdapipe.tables.writer import (
    COMMIT_ID_PROPERTY,
    RUN_KEY_PROPERTY,
    airflow_snapshot_properties,
    append_rows,
    commit_run,
)
from tests.support.order_rows import DAG_ID, order_ids, order_rows, order_table, run_key


def summary(table) -> dict[str, str]:
    return table.current_snapshot().summary.additional_properties


def test_commit_writes_the_rows_and_tags_the_snapshot_with_the_task_instance(orders) -> None:
    result = commit_run(
        orders, order_table("r1", 10), run_key("r1"), airflow_snapshot_properties(DAG_ID, "r1", "load", 3)
    )

    assert (result.rows, result.attempts, result.mode) == (10, 1, "replace_run")
    assert result.snapshot_id == orders.metadata.current_snapshot_id
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", 10))
    tags = summary(orders)
    assert {key: tags[key] for key in tags if key.startswith("airflow.")} == {
        "airflow.dag_id": DAG_ID,
        "airflow.run_id": "r1",
        "airflow.task_id": "load",
        "airflow.try_number": "3",
    }
    assert tags[RUN_KEY_PROPERTY] == '{"dag_id": "orders_pipeline", "run_id": "r1"}'
    assert len(tags[COMMIT_ID_PROPERTY]) == 32


def test_recommitting_a_run_key_replaces_its_rows_instead_of_adding_them(orders) -> None:
    commit_run(orders, order_table("r1", 10), run_key("r1"))
    commit_run(orders, order_table("r1", 10, tag="retry-"), run_key("r1"))
    commit_run(orders, order_table("r1", 10, tag="retry-"), run_key("r1"))

    rows = read_table(orders)
    assert rows.num_rows == 10
    assert order_ids(rows) == order_ids(order_table("r1", 10, tag="retry-"))


def test_two_runs_rows_sit_side_by_side_and_replacing_one_leaves_the_other(orders) -> None:
    commit_run(orders, order_table("r1", 10), run_key("r1"))
    commit_run(orders, order_table("r2", 5), run_key("r2"))
    commit_run(orders, order_table("r2", 3, tag="again-"), run_key("r2"))

    assert order_ids(read_table(orders)) == sorted(
        order_ids(order_table("r1", 10)) + order_ids(order_table("r2", 3, tag="again-"))
    )


def test_same_run_id_in_another_dag_is_another_run_key(orders) -> None:
    commit_run(orders, order_table("scheduled__2026-01-15", 4), run_key("scheduled__2026-01-15"))
    other = order_table("scheduled__2026-01-15", 2, dag_id="other_dag", tag="other-")
    commit_run(orders, other, run_key("scheduled__2026-01-15", dag_id="other_dag"))

    assert read_table(orders).num_rows == 6


def test_an_empty_commit_removes_the_runs_rows(orders) -> None:
    commit_run(orders, order_table("r1", 10), run_key("r1"))
    commit_run(orders, order_table("r2", 5), run_key("r2"))

    result = commit_run(orders, pa.table({}), run_key("r1"))

    assert result.rows == 0
    assert order_ids(read_table(orders)) == order_ids(order_table("r2", 5))


def test_rows_without_the_run_key_columns_get_the_keys_values(orders) -> None:
    data = order_table("r1", 4).drop_columns(["dag_id", "run_id"])

    commit_run(orders, data, run_key("r1"))

    rows = read_table(orders, columns=["dag_id", "run_id"])
    assert set(zip(rows["dag_id"].to_pylist(), rows["run_id"].to_pylist(), strict=True)) == {(DAG_ID, "r1")}


def test_rows_of_another_run_key_are_refused_and_nothing_is_committed(orders) -> None:
    data = pa.concat_tables([order_table("r1", 3), order_table("r2", 2)])

    with pytest.raises(ConformError, match=r"2 of 5 rows have run_id='r2', not the run key's 'r1'"):
        commit_run(orders, data, run_key("r1"))
    assert orders.current_snapshot() is None


def test_a_run_key_naming_no_column_is_refused(orders) -> None:
    with pytest.raises(ValueError, match=r"run key columns \['run'\] are not columns of lambdapipe.orders"):
        commit_run(orders, order_table("r1", 1), {"run": "r1"})


def test_xcom_rows_with_iso_strings_and_decimal_strings_are_converted_exactly(orders) -> None:
    rows = [
        {
            "order_id": "o-1",
            "created_at": "2026-01-15T12:30:00Z",
            "order_date": "2026-01-15",
            "order_total_usd": "1234.50",
            "anomalies": ["high_total"],
        },
        {"order_id": "o-2", "created_at": "2026-01-15T14:00:00+02:00", "order_date": "2026-01-15"},
    ]

    commit_run(orders, rows_to_arrow(rows), run_key("r1"))

    stored = {row["order_id"]: row for row in read_table(orders).to_pylist()}
    assert stored["o-1"]["order_total_usd"] == Decimal("1234.50")
    assert stored["o-1"]["created_at"] == dt.datetime(2026, 1, 15, 12, 30, tzinfo=dt.UTC)
    assert stored["o-2"]["created_at"] == dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
    assert stored["o-2"]["order_total_usd"] is None
    assert stored["o-1"]["anomalies"] == ["high_total"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"order_id": "o-1", "coupon": "X"}], r"has no column\(s\) \['coupon'\]"),
        ([{"order_id": "o-1", "order_total_usd": "1.005"}], r"column 'order_total_usd': cannot convert"),
        ([{"order_id": "o-1", "created_at": "yesterday"}], r"column 'created_at': cannot convert"),
    ],
    ids=["unknown column", "decimal losing a digit", "not a timestamp"],
)
def test_rows_that_do_not_fit_the_table_are_refused_naming_the_column(orders, rows, message) -> None:
    with pytest.raises(ConformError, match=message):
        commit_run(orders, rows_to_arrow(rows), run_key("r1"))


def test_rows_must_be_a_list_of_dicts() -> None:
    with pytest.raises(ConformError, match=r"rows\[1\] is a str, not a dict"):
        rows_to_arrow([{"a": 1}, "b"])


def test_a_data_interval_can_be_the_run_key(tables_config: TablesConfig) -> None:
    runs = ensure_table("pipeline_runs", tables_config)
    start = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    key = {"dag_id": DAG_ID, "data_interval_start": start.isoformat()}
    row = {"run_id": "manual__1", "data_interval_end": "2026-01-16T00:00:00Z", "count_in": 10, "status": "ok"}

    commit_run(runs, rows_to_arrow([row]), key)
    commit_run(
        runs,
        rows_to_arrow([{**row, "run_id": "manual__2", "count_in": 12}]),
        {**key, "data_interval_start": start},
    )

    stored = read_table(runs).to_pylist()
    assert [(r["run_id"], r["count_in"], r["data_interval_start"]) for r in stored] == [
        ("manual__2", 12, start)
    ]


def test_append_rows_adds_every_time(orders) -> None:
    append_rows(orders, order_table("r1", 3))
    append_rows(orders, order_table("r1", 3))

    assert read_table(orders).num_rows == 6


def test_order_rows_helper_fills_the_order_transform_columns(orders) -> None:
    columns = set(order_rows("r1", 1)[0])

    assert columns <= {field.name for field in orders.schema().fields}
    assert {
        "order_id",
        "created_at",
        "order_date",
        "order_total_usd",
        "anomalies",
        "dag_id",
        "run_id",
    } <= columns
