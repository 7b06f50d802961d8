"""The report rebuilds only the days the facts' commits touched since it last read them."""

from __future__ import annotations

import datetime as dt

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import rows_to_arrow
from lambdapipe.tables.writer import commit_run
from lambdapipe_demo.report_days import changed_days, current_sources
from tests.support.order_rows import order_table, run_key

MONDAY, TUESDAY, WEDNESDAY = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
ORDER_DAY = {"orders": "order_date"}


def test_the_days_of_files_added_or_deleted_since_are_the_days_to_rebuild(orders) -> None:
    commit_run(orders, order_table("r1", 3, day=MONDAY), run_key("r1"))
    commit_run(orders, order_table("r2", 2, day=TUESDAY), run_key("r2"))
    since = current_sources({"orders": orders})

    commit_run(orders, order_table("r3", 2, day=WEDNESDAY), run_key("r3"))  # a new day
    commit_run(orders, order_table("r1", 0), run_key("r1"))  # Monday's run rewritten with no order left

    assert changed_days({"orders": orders.refresh()}, ORDER_DAY, since) == {MONDAY, WEDNESDAY}


def test_no_commit_since_means_no_day_to_rebuild(orders) -> None:
    commit_run(orders, order_table("r1", 3, day=MONDAY), run_key("r1"))

    assert changed_days({"orders": orders}, ORDER_DAY, current_sources({"orders": orders})) == set()


def test_without_a_record_or_with_a_snapshot_no_longer_in_history_every_day_is_rebuilt(orders) -> None:
    commit_run(orders, order_table("r1", 3, day=MONDAY), run_key("r1"))

    assert changed_days({"orders": orders}, ORDER_DAY, None) is None
    assert changed_days({"orders": orders}, ORDER_DAY, {"orders": 12345}) is None  # expired
    assert changed_days({"orders": orders}, ORDER_DAY, {}) is None  # a table the report never read


def test_a_timestamp_column_partitioned_by_day_gives_utc_days(tables_config: TablesConfig, catalog) -> None:
    uploads = ensure_table("uploads", tables_config, catalog)
    since = current_sources({"uploads": uploads})  # before its first commit: None
    late_monday = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC)
    row = {"bucket": "uploads", "key": "incoming/a.png", "etag": "e", "status": "resized"}
    commit_run(uploads, rows_to_arrow([row | {"processed_at": late_monday}]), {"dag_id": "d", "run_id": "r"})

    assert since == {"uploads": None}
    assert changed_days({"uploads": uploads.refresh()}, {"uploads": "processed_at"}, since) == {MONDAY}
