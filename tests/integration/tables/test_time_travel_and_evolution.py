"""Time travel to the snapshot a run left, and schema evolution that keeps old data and readers working."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import ConformError, rows_to_arrow
from lambdapipe.tables.definitions import Column
from lambdapipe.tables.evolution import add_missing_columns
from lambdapipe.tables.query import read_table, snapshot_for_run
from lambdapipe.tables.writer import airflow_snapshot_properties, commit_run
from lambdapipe_demo.tables import ORDERS
from tests.support.order_rows import DAG_ID, order_ids, order_rows, order_table, run_key
from tests.support.table_registry import register_tables


def commit(orders, run_id: str, count: int, tag: str = "") -> None:
    properties = airflow_snapshot_properties(DAG_ID, run_id, "load", 1)
    commit_run(orders, order_table(run_id, count, tag=tag), run_key(run_id), properties)


def test_time_travel_shows_the_table_as_a_previous_run_left_it(orders) -> None:
    commit(orders, "r1", 4)
    commit(orders, "r2", 3)
    commit(orders, "r1", 2, tag="rerun-")  # a later re-run of r1 replaces its rows

    after_r2 = snapshot_for_run(orders, "r2")
    after_first_r1 = min(
        (s for s in orders.snapshots() if s.summary.additional_properties.get("airflow.run_id") == "r1"),
        key=lambda s: s.sequence_number,
    )

    assert order_ids(read_table(orders, snapshot_id=after_first_r1.snapshot_id)) == order_ids(
        order_table("r1", 4)
    )
    assert order_ids(read_table(orders, snapshot_id=after_r2.snapshot_id)) == sorted(
        order_ids(order_table("r1", 4)) + order_ids(order_table("r2", 3))
    )
    assert snapshot_for_run(orders, "r1").snapshot_id == orders.metadata.current_snapshot_id
    assert read_table(orders).num_rows == 5


def test_time_travel_to_a_run_without_snapshots_names_the_runs_kept(orders) -> None:
    commit(orders, "r1", 1)

    with pytest.raises(
        LookupError, match=r"no snapshot .* by run 'r9'; runs with snapshots still kept: \['r1'\]"
    ):
        snapshot_for_run(orders, "r9")


def test_adding_a_column_keeps_old_rows_and_old_snapshots_readable(orders) -> None:
    commit(orders, "r1", 3)
    before = orders.metadata.current_snapshot_id
    rows = [{**row, "discount_usd": "1.25"} for row in order_rows("r2", 2)]
    data = rows_to_arrow(rows)

    with pytest.raises(ConformError, match=r"no column\(s\) \['discount_usd'\]"):
        commit_run(orders, data, run_key("r2"))
    added = add_missing_columns(orders, data.schema)
    added_again = add_missing_columns(orders, data.schema)
    commit_run(orders, data, run_key("r2"))

    assert (added, added_again) == (["discount_usd"], [])
    current = {row["order_id"]: row["discount_usd"] for row in read_table(orders).to_pylist()}
    assert current == {"r1-0": None, "r1-1": None, "r1-2": None, "r2-0": "1.25", "r2-1": "1.25"}
    old = read_table(orders, snapshot_id=before)
    assert order_ids(old) == order_ids(order_table("r1", 3))
    # Writers that do not know the new column keep committing.
    commit_run(orders, order_table("r3", 1), run_key("r3"))
    assert read_table(orders).num_rows == 6


def test_a_column_added_to_a_definition_reaches_the_existing_table(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    grown = ORDERS
    original = dataclasses.replace(grown, columns=tuple(c for c in grown.columns if c.name != "usd_per_unit"))
    register_tables(monkeypatch, original)
    created = ensure_table("orders", tables_config)
    commit_run(created, order_table("r1", 2).drop_columns(["usd_per_unit"]), run_key("r1"))
    grown_more = dataclasses.replace(
        grown, columns=(*grown.columns, Column("channel", "string", "web or app"))
    )
    register_tables(monkeypatch, grown_more)

    table = ensure_table("orders", tables_config)

    assert [field.name for field in table.schema().fields][-2:] == ["usd_per_unit", "channel"]
    assert table.schema().find_field("channel").doc == "web or app"
    commit_run(table, order_table("r2", 1), run_key("r2"))
    values = {row["order_id"]: row["usd_per_unit"] for row in read_table(table).to_pylist()}
    assert values == {"r1-0": None, "r1-1": None, "r2-0": Decimal("1.080000")}
