"""The days whose facts changed since the report last read them: a report run rebuilds only those.

Each ``daily_report`` snapshot records the fact tables' snapshot ids it was built from
(``SOURCES_PROPERTY``). The next run walks each fact table's snapshots after that one and reads, from
the manifests those snapshots wrote, the day partitions of the data files they added or deleted:
its cost grows with the commits since the last report, never with the facts. When the report has no
record, or a recorded snapshot is no longer in a table's history (``table_maintenance`` expired it),
every day is rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pyiceberg.manifest import ManifestEntryStatus

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

SOURCES_PROPERTY = "lambdapipe.report.sources"
EPOCH = date(1970, 1, 1)


def current_sources(facts: Mapping[str, Table]) -> dict[str, int | None]:
    """Each fact table's current snapshot id (None before its first commit): what a report reads."""
    return {name: _snapshot_id(table.current_snapshot()) for name, table in facts.items()}


def recorded_sources(report: Table) -> dict[str, int | None] | None:
    """The snapshot ids the current report was built from; None when it does not say."""
    snapshot = report.current_snapshot()
    properties = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
    recorded = properties.get(SOURCES_PROPERTY)
    return json.loads(recorded) if recorded else None


def changed_days(
    facts: Mapping[str, Table], day_columns: Mapping[str, str], since: Mapping[str, int | None] | None
) -> set[date] | None:
    """The days any fact table's commits after ``since`` touched; None: rebuild every day."""
    if since is None:
        return None
    days: set[date] = set()
    for name, table in facts.items():
        if name not in since:
            return None
        snapshots = _snapshots_after(table, since[name])
        if snapshots is None:
            return None
        for snapshot in snapshots:
            days |= _days_written(table, snapshot, day_columns[name])
    return days


def _snapshot_id(snapshot: Snapshot | None) -> int | None:
    return snapshot.snapshot_id if snapshot is not None else None


def _snapshots_after(table: Table, snapshot_id: int | None) -> list[Snapshot] | None:
    """The snapshots after ``snapshot_id`` up to the current one, oldest first; None when
    ``snapshot_id`` is not in the current snapshot's lineage."""
    newer: list[Snapshot] = []
    snapshot = table.current_snapshot()
    while snapshot is not None and snapshot.snapshot_id != snapshot_id:
        newer.append(snapshot)
        parent = snapshot.parent_snapshot_id
        if parent is None:
            break  # the table's first snapshot
        snapshot = table.snapshot_by_id(parent)
        if snapshot is None:
            return None  # expired: the commits in between are unknown
    if snapshot_id is not None and (snapshot is None or snapshot.snapshot_id != snapshot_id):
        return None
    return newer[::-1]


def _days_written(table: Table, snapshot: Snapshot, day_column: str) -> set[date]:
    """The day partitions of the data files ``snapshot`` added or deleted."""
    days: set[date] = set()
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue  # written by an earlier snapshot: no change here
        spec = table.specs()[manifest.partition_spec_id]
        position = _day_field_position(table, spec, day_column)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
            if entry.snapshot_id == snapshot.snapshot_id and entry.status != ManifestEntryStatus.EXISTING:
                day = _as_date(entry.data_file.partition[position])
                if day is not None:
                    days.add(day)
    return days


def _day_field_position(table: Table, spec: Any, day_column: str) -> int:
    source_id = table.schema().find_field(day_column).field_id
    for position, field in enumerate(spec.fields):
        if field.source_id == source_id:
            return position
    raise ValueError(f"{'.'.join(table.name())} is not partitioned by {day_column}")


def _as_date(value: Any) -> date | None:
    """A day partition's value: days since 1970-01-01 (day transform, identity on a date) or a date."""
    if value is None or isinstance(value, date):
        return value
    return EPOCH + timedelta(days=int(value))
