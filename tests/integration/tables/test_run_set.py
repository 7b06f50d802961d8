"""A run's rows go to several tables as a unit: checked first, one snapshot per table, and set back
when a commit fails part-way, so a failed run leaves every table as it was."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import ConformError
from lambdapipe.tables.query import read_table
from lambdapipe.tables.run_files import RunFiles
from lambdapipe.tables.run_set import RunSetError, TableRuns, commit_together
from lambdapipe.tables.writer import commit_run
from tests.support.order_rows import order_ids, order_table, run_key


def pipeline_run(run_id: str) -> pa.Table:
    return pa.Table.from_pylist([{"dag_id": "orders_pipeline", "run_id": run_id, "status": "success"}])


def state(*tables: Any) -> list[tuple[int | None, list[str]]]:
    """Each table's current snapshot and what a reader sees in it."""
    result = []
    for table in tables:
        table.refresh()
        rows = read_table(table)
        result.append((table.metadata.current_snapshot_id, sorted(map(str, rows.column(0).to_pylist()))))
    return result


def _fails_on_pipeline_runs(monkeypatch: pytest.MonkeyPatch, method: str, error: str) -> None:
    """``RunFiles.<method>`` raises ``OSError(error)`` for the ``pipeline_runs`` table (the run's
    last), as storage refusing that table's writes would."""
    real = getattr(RunFiles, method)

    def failing_on_pipeline_runs(files: RunFiles, *args: Any, **kwargs: Any) -> Any:
        if files.table.name()[-1] == "pipeline_runs":
            raise OSError(error)
        return real(files, *args, **kwargs)

    monkeypatch.setattr(RunFiles, method, failing_on_pipeline_runs)


def test_several_run_keys_land_in_one_snapshot_per_table(tables_config: TablesConfig) -> None:
    orders, runs = ensure_table("orders", tables_config), ensure_table("pipeline_runs", tables_config)

    results = commit_together(
        [
            TableRuns(orders, [(run_key("r1"), order_table("r1", 3)), (run_key("r2"), order_table("r2", 2))]),
            TableRuns(runs, [(run_key("r1"), pipeline_run("r1"))]),
        ]
    )

    assert [len(table.snapshots()) for table in (orders, runs)] == [1, 1]
    assert [result.rows for result in results] == [5, 1]
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", 3)) + order_ids(order_table("r2", 2))


def test_a_row_one_table_refuses_stops_the_set_before_anything_is_written(
    tables_config: TablesConfig,
) -> None:
    orders, runs = ensure_table("orders", tables_config), ensure_table("pipeline_runs", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    before = state(orders, runs)

    with pytest.raises(ConformError):
        commit_together(
            [
                TableRuns(orders, [(run_key("r1"), order_table("r1", 3))]),
                TableRuns(runs, [(run_key("r1"), pipeline_run("another-run"))]),  # not its run key
            ]
        )

    assert state(orders, runs) == before


def test_a_commit_failing_part_way_sets_the_tables_already_committed_back(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = ensure_table("orders", tables_config)
    lines = ensure_table("order_lines", tables_config)  # new: set back means empty again
    runs = ensure_table("pipeline_runs", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    before = state(orders, lines, runs)
    _fails_on_pipeline_runs(monkeypatch, "commit", "S3 PutObject: SlowDown (injected)")
    line = pa.Table.from_pylist([{"order_id": "r1-0", "line_number": 1, "sku": "A", "qty": 1}])
    with pytest.raises(RunSetError) as failed:
        commit_together(
            [
                TableRuns(orders, [(run_key("r0"), order_table("r0", 4, tag="new-"))]),
                TableRuns(lines, [(run_key("r1"), line)]),
                TableRuns(runs, [(run_key("r1"), pipeline_run("r1"))]),
            ]
        )

    message = str(failed.value)
    assert "committing to" in message and "pipeline_runs failed (OSError" in message
    assert "order_lines" in message and "orders" in message
    after = state(orders, lines, runs)
    assert [rows for _, rows in after] == [rows for _, rows in before], "every table reads as before"
    assert after[0][0] == before[0][0], "orders is back on its earlier snapshot"


def test_a_set_back_keeps_what_another_run_committed_after_this_run_loaded_the_table(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set-back point is the snapshot this run's commit was made on, not the one the table had
    when the run loaded it: an order run reads its facts for minutes, and another run's commit in
    that time must survive this run's failure."""
    orders = ensure_table("orders", tables_config)
    runs = ensure_table("pipeline_runs", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))  # this run's `orders` is now at r0
    another_run = ensure_table("orders", tables_config)
    commit_run(another_run, order_table("r9", 3), run_key("r9"))
    _fails_on_pipeline_runs(monkeypatch, "commit", "S3 PutObject: SlowDown (injected)")
    with pytest.raises(RunSetError, match=r"set back: \['lambdapipe\.orders'\]"):
        commit_together(
            [
                TableRuns(orders, [(run_key("r1"), order_table("r1", 4))]),
                TableRuns(runs, [(run_key("r1"), pipeline_run("r1"))]),
            ]
        )

    orders.refresh()
    assert order_ids(read_table(orders)) == sorted(
        order_ids(order_table("r0", 2)) + order_ids(order_table("r9", 3))
    ), "the other run's r9 rows are still there and this run's r1 rows are gone"


def test_every_tables_data_files_are_written_before_the_first_commit(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose last table's data files cannot be written commits nothing: no table gets a
    snapshot that has to be set back, and no reader ever sees the first tables' new rows."""
    orders, runs = ensure_table("orders", tables_config), ensure_table("pipeline_runs", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    snapshots_before = [snapshot.snapshot_id for snapshot in orders.snapshots()]
    _fails_on_pipeline_runs(monkeypatch, "write_buffered", "S3 PutObject: AccessDenied (injected)")
    with pytest.raises(
        RunSetError, match=r"data files of lambdapipe\.pipeline_runs failed .*nothing was committed"
    ):
        commit_together(
            [
                TableRuns(orders, [(run_key("r1"), order_table("r1", 3))]),
                TableRuns(runs, [(run_key("r1"), pipeline_run("r1"))]),
            ]
        )

    orders.refresh()
    assert [snapshot.snapshot_id for snapshot in orders.snapshots()] == snapshots_before


def test_a_table_that_cannot_be_set_back_is_named_and_the_others_are_still_set_back(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set-back of ``order_lines`` (newest first, so before ``orders``) fails too: the error
    names it with why, and ``orders`` is set back all the same."""
    orders = ensure_table("orders", tables_config)
    lines = ensure_table("order_lines", tables_config)
    runs = ensure_table("pipeline_runs", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    before = state(orders)
    real_commit = RunFiles.commit

    def storage_fails_on_pipeline_runs_and_the_lines_set_back(
        files: RunFiles, *args: Any, **kwargs: Any
    ) -> Any:
        table = files.table.name()[-1]
        if table == "pipeline_runs" or (table == "order_lines" and not files.rows):  # no rows: a set-back
            raise OSError(f"S3 PutObject on {table}: AccessDenied (injected)")
        return real_commit(files, *args, **kwargs)

    monkeypatch.setattr(RunFiles, "commit", storage_fails_on_pipeline_runs_and_the_lines_set_back)
    line = pa.Table.from_pylist([{"order_id": "r1-0", "line_number": 1, "sku": "A", "qty": 1}])
    with pytest.raises(RunSetError) as failed:
        commit_together(
            [
                TableRuns(orders, [(run_key("r1"), order_table("r1", 3))]),
                TableRuns(lines, [(run_key("r1"), line)]),
                TableRuns(runs, [(run_key("r1"), pipeline_run("r1"))]),
            ]
        )

    message = str(failed.value)
    assert "set back: ['lambdapipe.orders']" in message
    assert "lambdapipe.order_lines (set-back failed: OSError: S3 PutObject on order_lines" in message
    assert state(orders) == before
