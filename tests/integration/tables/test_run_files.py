"""A run whose rows come in pieces: each piece checked when added, written to data files at most
FILE_ROWS rows at a time, and the run committed once, so a big run never sits in memory whole."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lambdapipe.tables import run_files
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import ConformError
from lambdapipe.tables.query import read_table
from lambdapipe.tables.run_files import RunFiles
from lambdapipe.tables.writer import commit_run
from tests.support.order_rows import order_ids, order_table, run_key


def pieces(run_id: str, count: int, size: int) -> list[pa.Table]:
    whole = order_table(run_id, count)
    return [whole.slice(start, size) for start in range(0, count, size)]


def test_a_run_added_in_pieces_is_written_a_few_rows_at_a_time_and_lands_in_one_snapshot(
    tables_config: TablesConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_files, "FILE_ROWS", 5)
    written: list[int] = []
    real_write = RunFiles.write_buffered

    def counting(files: RunFiles) -> None:
        written.append(sum(piece.num_rows for piece in files._buffer))
        real_write(files)

    monkeypatch.setattr(RunFiles, "write_buffered", counting)
    orders = ensure_table("orders", tables_config)
    files = RunFiles(orders, [run_key("r1")])

    for piece in pieces("r1", 12, 3):
        files.add(run_key("r1"), piece)
    result = files.commit()

    assert [rows for rows in written if rows] == [6, 6]  # never more than FILE_ROWS + one piece held
    assert len(orders.snapshots()) == 1 and result.rows == 12
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", 12))
    assert len(list(orders.scan().plan_files())) == 2


def test_a_run_replaces_its_keys_rows_and_keeps_other_runs(tables_config: TablesConfig) -> None:
    orders = ensure_table("orders", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    commit_run(orders, order_table("r1", 5, tag="old-"), run_key("r1"))
    files = RunFiles(orders, [run_key("r1")])

    for piece in pieces("r1", 4, 2):
        files.add(run_key("r1"), piece)
    files.commit()

    assert order_ids(read_table(orders)) == order_ids(order_table("r0", 2)) + order_ids(order_table("r1", 4))


def test_a_refused_piece_raises_when_added_and_nothing_is_committed(tables_config: TablesConfig) -> None:
    orders = ensure_table("orders", tables_config)
    commit_run(orders, order_table("r0", 2), run_key("r0"))
    before = orders.metadata.current_snapshot_id
    files = RunFiles(orders, [run_key("r1")])
    files.add(run_key("r1"), order_table("r1", 3))

    with pytest.raises(ConformError, match="run_id='r2', not the run key's 'r1'"):
        files.add(run_key("r1"), order_table("r2", 1))  # rows of another run

    orders.refresh()
    assert orders.metadata.current_snapshot_id == before
    assert order_ids(read_table(orders)) == order_ids(order_table("r0", 2))


def test_rows_for_a_key_the_commit_does_not_replace_are_refused(tables_config: TablesConfig) -> None:
    files = RunFiles(ensure_table("orders", tables_config), [run_key("r1")])

    with pytest.raises(ValueError, match="is not one of this commit's keys"):
        files.add(run_key("r2"), order_table("r2", 1))


def test_a_commit_after_another_writers_commit_keeps_both(tables_config: TablesConfig) -> None:
    orders = ensure_table("orders", tables_config)
    files = RunFiles(orders, [run_key("r1")])
    files.add(run_key("r1"), order_table("r1", 3))
    commit_run(ensure_table("orders", tables_config), order_table("r2", 2), run_key("r2"))  # another writer

    files.commit()

    orders.refresh()
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", 3)) + order_ids(order_table("r2", 2))
