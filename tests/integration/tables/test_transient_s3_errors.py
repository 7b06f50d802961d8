"""A 5xx from S3 in the middle of a table read or commit is tried again, not the task's failure.

pyarrow's S3 filesystem (pyiceberg's FileIO) does not retry one; in a chaos run (5% of S3 calls
answered 500) ``record_uploads`` failed all three tries on them and its DAG run failed.
"""

from __future__ import annotations

import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.query import read_table
from lambdapipe.tables.run_files import RunFiles
from lambdapipe.tables.writer import commit_run
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.order_rows import order_ids, order_table, run_key


@pytest.mark.parametrize("operation", ["GetObject", "HeadObject"])
def test_a_read_meeting_s3_500s_reads_again_and_returns_every_row(
    aws: LocalAws, tables_config: TablesConfig, operation: str
) -> None:
    orders = ensure_table("orders", tables_config)
    commit_run(orders, order_table("r1", 5), run_key("r1"))
    aws.faults.add(FaultRule(service="s3", operation=operation, error="s3_internal_error", count=5))

    rows = read_table(orders)

    assert order_ids(rows) == order_ids(order_table("r1", 5))
    assert aws.faults.rules() == [], "both injected 500s were met"


def test_a_commit_meeting_s3_500s_commits_once(aws: LocalAws, tables_config: TablesConfig) -> None:
    orders = ensure_table("orders", tables_config)
    commit_run(orders, order_table("r1", 5), run_key("r1"))
    aws.faults.add(FaultRule(service="s3", error="s3_internal_error", count=3))

    commit_run(orders, order_table("r2", 4), run_key("r2"))

    orders.refresh()
    assert order_ids(read_table(orders)) == sorted(
        order_ids(order_table("r1", 5)) + order_ids(order_table("r2", 4))
    )
    assert aws.faults.rules() == []


def test_a_run_written_in_pieces_meeting_s3_500s_on_its_data_files_commits_every_row(
    aws: LocalAws, tables_config: TablesConfig
) -> None:
    """Before, the rows left the buffer before their files were written, and one 500 failed the write."""
    orders = ensure_table("orders", tables_config)
    files = RunFiles(orders, [run_key("r1")])
    files.add(run_key("r1"), order_table("r1", 6))
    aws.faults.add(
        FaultRule(service="s3", operation="CreateMultipartUpload", error="s3_internal_error", count=5)
    )

    files.commit()

    orders.refresh()
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", 6))
    assert aws.faults.rules() == []
