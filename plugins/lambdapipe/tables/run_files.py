"""A replace of run keys whose rows arrive in pieces: written to data files as they come, committed once.

``commit_run`` needs every row in memory at once; an order hour of a million orders does not fit
that way. ``RunFiles`` takes the rows piece by piece: each piece is conformed and checked against its
run key when added (a refused row raises before anything is committed), pieces are buffered up to
``FILE_ROWS`` rows and written as Parquet data files (pyiceberg's own writer: partitioning, names and
statistics as its ``append`` makes them), and ``commit`` replaces the keys' rows with those files in
ONE transaction (the delete and the files' append, the same snapshots ``overwrite`` makes). A commit
that conflicts is planned again with the same files: they are written once. Files of a run that never
commits (a refused row, a killed worker) are unreferenced orphans for table maintenance.
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.expressions import Or

from lambdapipe.tables.conform import conform_table
from lambdapipe.tables.retry import DEFAULT_MAX_ATTEMPTS, retry_on_conflict, retry_transient_io
from lambdapipe.tables.writer import (
    NOTHING_TO_DELETE,
    CommitResult,
    apply_run_key,
    check_run_key,
    commit_properties,
    jsonable_key,
    run_key_filter,
)

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

# Rows buffered before they are written: ~100-200 MB of Arrow for order-sized rows, and files big
# enough that an hour of a million orders makes a handful per table, not one per piece.
FILE_ROWS = 250_000


class RunFiles:
    """The rows one table receives for ``keys``, added piece by piece; see the module doc."""

    def __init__(self, table: Table, keys: Sequence[Mapping[str, Any]]) -> None:
        if not keys:
            raise ValueError("at least one run key is needed")
        self.table = table
        self.name = ".".join(table.name())
        self.keys = [check_run_key(table, key) for key in keys]
        self.rows = 0
        self._schema = table.schema().as_arrow()
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._files: list[DataFile] = []
        self._write_id = uuid.uuid4()
        self._counter = itertools.count()

    def add(self, run_key: Mapping[str, Any], rows: pa.Table) -> None:
        """Check ``rows`` against the table and ``run_key`` (one of ``keys``), then buffer or write them."""
        key = dict(run_key)
        if key not in self.keys:
            raise ValueError(f"{self.name}: run key {jsonable_key(key)} is not one of this commit's keys")
        data = apply_run_key(conform_table(rows, self._schema, table_name=self.name), key, self.name)
        if not data.num_rows:
            return
        self._buffer.append(data)
        self._buffered += data.num_rows
        self.rows += data.num_rows
        if self._buffered >= FILE_ROWS:
            self.write_buffered()

    def commit(
        self,
        snapshot_properties: Mapping[str, str] | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> CommitResult:
        """Replace the keys' rows with everything added, in one transaction."""
        from pyiceberg.table import Table as IcebergTable

        self.write_buffered()
        filters = [run_key_filter(key) for key in self.keys]
        row_filter = Or(*filters) if len(filters) > 1 else filters[0]
        shown = self.keys[0] if len(self.keys) == 1 else self.keys
        properties = commit_properties(snapshot_properties, shown)

        def replace(current: IcebergTable) -> None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=NOTHING_TO_DELETE)
                with current.transaction() as transaction:
                    transaction.delete(row_filter, snapshot_properties=properties)
                    with transaction.update_snapshot(snapshot_properties=properties).fast_append() as append:
                        for data_file in self._files:
                            append.append_data_file(data_file)

        what = f"commit {jsonable_key(shown) if len(self.keys) == 1 else f'{len(self.keys)} run keys'} to {self.name}"
        _, attempts = retry_on_conflict(self.table, replace, what=what, max_attempts=max_attempts)
        return CommitResult(
            self.name,
            "replace_run",
            self.rows,
            self.table.metadata.current_snapshot_id,
            attempts,
            jsonable_key(self.keys[0])
            if len(self.keys) == 1
            else {"run_keys": [jsonable_key(key) for key in self.keys]},
        )

    def write_buffered(self) -> None:
        """Write the rows added so far and not yet in a data file (``commit`` does it too)."""
        from pyiceberg.io.pyarrow import _dataframe_to_data_files

        if not self._buffer:
            return
        data = pa.concat_tables(self._buffer)
        written = retry_transient_io(  # the buffer stays until every file of it is written
            lambda: list(
                _dataframe_to_data_files(
                    table_metadata=self.table.metadata,
                    df=data,
                    io=self.table.io,
                    write_uuid=self._write_id,
                    counter=self._counter,
                )
            ),
            what=f"write data files of {self.name}",
        )
        self._files.extend(written)
        self._buffer, self._buffered = [], 0
