"""Commit one run's rows to several tables as a unit: all of them, or, after an error, none.

Iceberg commits one table at a time. An order run used to commit table after table and hour after
hour (3 x N snapshots): a failure part-way left some hours and tables new and the rest old. Now:

1. every table's rows are conformed and checked against their run keys first, so nothing is
   committed while a row could still be refused (rows are written to data files as they are checked,
   ``run_files``: a run too big to hold is added piece by piece; a refused row leaves only
   unreferenced files), and every table's data files are written before the first commit;
2. each table gets ONE snapshot holding all the run's keys (every hour), in the order given; the
   last table is the run's marker (``pipeline_runs``): when its row is there, the run is complete;
3. if a commit fails, the tables already committed are set back to the snapshot the run's commit
   was made on (a commit another run made while this one read its facts stays), unless another
   writer has committed to one since or the set-back itself fails (that table is left as it is,
   and the error says which and why). A writer killed between two commits cannot set anything
   back: its retry replaces the same run keys again and converges.

A reader between two commits sees the earlier tables new and the later ones old; one that needs a
consistent view reads each table as of the snapshot tagged with the run (``snapshot_for_run``) once
the run's ``pipeline_runs`` row exists.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdapipe.tables.run_files import RunFiles
from lambdapipe.tables.writer import COMMIT_ID_PROPERTY, CommitResult

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

log = logging.getLogger(__name__)


class RunSetError(RuntimeError):
    """A commit of the set failed; says which tables were set back and which could not be."""


@dataclass(frozen=True)
class TableRuns:
    """The rows one table receives from a run: ``(run_key, rows)`` per key (an order run's hours)."""

    table: Table
    parts: Sequence[tuple[Mapping[str, Any], pa.Table]]


def commit_together(
    commits: Sequence[TableRuns], snapshot_properties: Mapping[str, str] | None = None
) -> list[CommitResult]:
    """One snapshot per table, in order; all checked first; set back on failure (see the module doc)."""
    staged = []
    for commit in commits:
        files = RunFiles(commit.table, [key for key, _ in commit.parts])
        for key, rows in commit.parts:
            files.add(key, rows)
        staged.append(files)
    return commit_files_together(staged, snapshot_properties)


def commit_files_together(
    commits: Sequence[RunFiles], snapshot_properties: Mapping[str, str] | None = None
) -> list[CommitResult]:
    """:func:`commit_together` for rows already added to each table's :class:`RunFiles`."""
    for files in commits:  # a table whose files cannot be written fails the set before any commit
        try:
            files.write_buffered()
        except Exception as error:
            raise RunSetError(
                f"writing the data files of {files.name} failed ({type(error).__name__}: {error}); "
                "nothing was committed"
            ) from error
    done: list[tuple[RunFiles, CommitResult]] = []
    for files in commits:
        try:
            done.append((files, files.commit(snapshot_properties)))
        except Exception as error:
            undone, kept = _set_back(done)
            raise RunSetError(
                f"committing to {files.name} failed ({type(error).__name__}: {error}); "
                f"set back: {undone or 'nothing'}; left as committed: {kept or 'nothing'}"
            ) from error
    return [result for _, result in done]


def _set_back(done: list[tuple[RunFiles, CommitResult]]) -> tuple[list[str], list[str]]:
    """Undo the commits made so far, newest first; returns the tables set back and those kept (why)."""
    undone, kept = [], []
    for files, result in reversed(done):
        table = files.table
        try:
            table.refresh()
            if table.metadata.current_snapshot_id != result.snapshot_id:
                kept.append(f"{files.name} (another writer came after)")
                continue
            previous = _made_on(table, result.snapshot_id)
            if previous is None:  # a new table: as before is without the run's rows
                RunFiles(table, files.keys).commit()
            else:
                table.manage_snapshots().rollback_to_snapshot(previous).commit()
        except Exception as error:  # one table that cannot be set back must not stop the others
            kept.append(f"{files.name} (set-back failed: {type(error).__name__}: {error})")
            continue
        undone.append(files.name)
    log.warning("Run set failed: set back %s, kept %s", undone, kept)
    return undone, kept


def _made_on(table: Table, snapshot_id: int) -> int | None:
    """The snapshot the commit ending in ``snapshot_id`` was made on: the parent of its first snapshot
    (a replace may make a delete and an append snapshot, which share its commit id). Not the snapshot
    the run loaded: the commit may have been retried on top of another run's."""
    snapshot = table.metadata.snapshot_by_id(snapshot_id)
    commit_id = _commit_id(snapshot)
    while commit_id is not None and snapshot.parent_snapshot_id is not None:
        parent = table.metadata.snapshot_by_id(snapshot.parent_snapshot_id)
        if parent is None or _commit_id(parent) != commit_id:
            break
        snapshot = parent
    return snapshot.parent_snapshot_id


def _commit_id(snapshot: Snapshot) -> str | None:
    return snapshot.summary[COMMIT_ID_PROPERTY] if snapshot.summary is not None else None
