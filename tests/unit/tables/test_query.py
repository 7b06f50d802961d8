"""Query parsing and errors, without a catalog."""

from __future__ import annotations

import pytest

from lambdapipe.tables.query import QueryError, referenced_tables, run_sql
from tests.support.order_rows import order_table


def test_sql_errors_are_reported_as_query_errors() -> None:
    with pytest.raises(QueryError, match="SQLite: no such column: nope"):
        run_sql("select nope from orders", {"orders": order_table("r1", 1)}, "sqlite")


def test_referenced_tables_are_whole_words() -> None:
    sql = "select * from orders o join orders_archive a using (order_id) join UPLOADS u on true"

    assert referenced_tables(sql, ["orders", "uploads", "order_rejects", "orders_arch"]) == [
        "orders",
        "uploads",
    ]
