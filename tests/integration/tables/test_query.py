"""SQL over the tables, offline: each named table is scanned to Arrow, then DuckDB or SQLite runs the SQL."""

from __future__ import annotations

import importlib.util

import pyarrow as pa
import pytest

from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.query import query, run_sql
from lambdapipe.tables.writer import commit_run
from tests.support.order_rows import order_table, run_key

ENGINES = [
    "sqlite",
    pytest.param(
        "duckdb",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("duckdb") is None, reason="duckdb is not installed"
        ),
    ),
]
TOTALS = """
    select o.run_id, count(*) as orders, sum(o.order_total_usd) as total_usd, max(r.note) as note
    from orders o join notes r on r.run_id = o.run_id
    group by o.run_id order by o.run_id
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_sql_joins_and_aggregates_arrow_tables(engine: str) -> None:
    orders = pa.concat_tables([order_table("r1", 3), order_table("r2", 2)])
    notes = pa.table({"run_id": ["r1", "r2"], "note": ["first", "second"]})

    result = run_sql(TOTALS, {"orders": orders, "notes": notes}, engine)

    rows = result.to_pylist()
    assert [
        (row["run_id"], row["orders"], round(float(row["total_usd"]), 2), row["note"]) for row in rows
    ] == [
        ("r1", 3, 35.4, "first"),
        ("r2", 2, 22.6, "second"),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_timestamps_and_dates_can_be_filtered(engine: str) -> None:
    sql = "select count(*) as n from orders where order_date = '2026-01-15' and created_at >= '2026-01-15 12:00:01'"

    result = run_sql(sql, {"orders": order_table("r1", 3)}, engine)

    assert result.column("n").to_pylist() == [2]


def test_query_reads_the_tables_the_sql_names_from_the_catalog(tables_config: TablesConfig, orders) -> None:
    commit_run(orders, order_table("r1", 4), run_key("r1"))

    result = query("select count(distinct order_id) as n from orders", tables_config)

    assert result.column("n").to_pylist() == [4]
