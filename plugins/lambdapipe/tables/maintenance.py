"""Keep tables cheap: expire old snapshots, then delete the files that no kept snapshot references.

pyiceberg 0.12's snapshot expiry only edits metadata (it deletes no file) and it has no orphan-file
removal. So orphan removal lists the table's location, diffs it against every file the current
metadata reaches (metadata files, and each kept snapshot's manifest list, manifests and data
files) and deletes only files older than a safety window: a commit in flight has written files that
no snapshot references yet. The listing is taken before the metadata is refreshed, so a commit that
lands in between counts as live. A dry run returns the same plan and deletes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pyarrow.fs import FileSelector, FileType
from pyiceberg.io.pyarrow import PyArrowFileIO

from lambdapipe.tables.catalog import TableNotFoundError, load_table
from lambdapipe.tables.config import S3_SCHEMES, load_config, s3_client
from lambdapipe.tables.ownership import claim_warehouse
from lambdapipe.tables.retry import retry_on_conflict

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger(__name__)


class MaintenanceError(RuntimeError):
    """Maintenance refused to run because it could not be done safely."""


@dataclass(frozen=True)
class ExpireResult:
    table: str
    expired_snapshot_ids: list[int]
    kept_snapshots: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OrphanFile:
    path: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class OrphanResult:
    table: str
    files: list[OrphanFile] = field(default_factory=list)
    dry_run: bool = True

    @property
    def bytes(self) -> int:
        return sum(orphan.size for orphan in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "dry_run": self.dry_run,
            "files": len(self.files),
            "bytes": self.bytes,
            "paths": [orphan.path for orphan in self.files],
        }


def snapshots_to_expire(table: Table, *, older_than: dt.datetime, retain_last: int) -> list[int]:
    """Snapshots older than ``older_than``, except the newest ``retain_last`` and branch/tag heads."""
    if retain_last < 1:
        raise ValueError(f"retain_last must be >= 1 (the current snapshot is always kept), got {retain_last}")
    newest_first = sorted(
        table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0), reverse=True
    )
    keep = {s.snapshot_id for s in newest_first[:retain_last]}
    keep |= {ref.snapshot_id for ref in table.metadata.refs.values()}
    cutoff_ms = older_than.timestamp() * 1000
    return [s.snapshot_id for s in newest_first if s.snapshot_id not in keep and s.timestamp_ms < cutoff_ms]


def expire_snapshots(
    table: Table, *, older_than: dt.datetime, retain_last: int = 1, dry_run: bool = False
) -> ExpireResult:
    """Drop old snapshots from the metadata (files are left for ``remove_orphan_files``)."""
    name = ".".join(table.name())

    def expire(current: Table) -> list[int]:
        expired = snapshots_to_expire(current, older_than=older_than, retain_last=retain_last)
        if expired and not dry_run:
            current.maintenance.expire_snapshots().by_ids(expired).commit()
        return expired

    expired, _ = retry_on_conflict(table, expire, what=f"expire snapshots of {name}")
    kept = len(table.snapshots()) - (len(expired) if dry_run else 0)
    log.info(
        "%s %d snapshots of %s, %d kept", "Would expire" if dry_run else "Expired", len(expired), name, kept
    )
    return ExpireResult(name, expired, kept, dry_run)


def live_files(table: Table) -> set[str]:
    """Every file the table's current metadata references, as ``bucket/key`` paths."""
    metadata = table.metadata
    locations = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    locations |= {stats.statistics_path for stats in metadata.statistics}
    locations |= {stats.statistics_path for stats in metadata.partition_statistics}
    seen_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        locations.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            locations.add(manifest.manifest_path)
            # Deleted entries too: conservative, the file goes once the snapshot that deleted it expires.
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                locations.add(entry.data_file.file_path)
    return {_path(location) for location in locations}


def find_orphan_files(table: Table, *, older_than: dt.datetime) -> list[OrphanFile]:
    """Files under the table's location that no kept snapshot references, last modified before ``older_than``."""

    scheme, filesystem, root = _location(table)
    listed = filesystem.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
    table.refresh()  # after listing: a commit landing meanwhile makes its files live, not orphans
    live = live_files(table)
    orphans = []
    for info in listed:
        if info.type != FileType.File or info.path in live:
            continue
        modified = info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=dt.UTC)
        if modified < older_than:
            orphans.append(OrphanFile(f"{scheme}://{info.path}", info.size, modified))
    return sorted(orphans, key=lambda orphan: orphan.path)


def remove_orphan_files(table: Table, *, older_than: dt.datetime, dry_run: bool = False) -> OrphanResult:
    """Delete (or with ``dry_run`` only list) the orphan files older than ``older_than``."""
    name = ".".join(table.name())
    orphans = find_orphan_files(table, older_than=older_than)
    if not dry_run:
        _delete(table, [orphan.path for orphan in orphans])
    result = OrphanResult(name, orphans, dry_run)
    log.info(
        "%s %d orphan files (%d bytes) of %s",
        "Would delete" if dry_run else "Deleted",
        len(orphans),
        result.bytes,
        name,
    )
    return result


def run_maintenance(
    table: Table,
    *,
    snapshot_max_age: dt.timedelta,
    retain_last: int,
    orphan_min_age: dt.timedelta,
    dry_run: bool,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Expire snapshots, then remove orphans (including the files only expired snapshots used)."""
    now = now or dt.datetime.now(dt.UTC)
    expired = expire_snapshots(
        table, older_than=now - snapshot_max_age, retain_last=retain_last, dry_run=dry_run
    )
    orphans = remove_orphan_files(table, older_than=now - orphan_min_age, dry_run=dry_run)
    return {"expire": expired.to_dict(), "orphans": orphans.to_dict()}


def maintain_table(
    table_name: str,
    *,
    snapshot_max_age: dt.timedelta,
    retain_last: int,
    orphan_min_age: dt.timedelta,
    dry_run: bool,
) -> dict[str, Any]:
    """``run_maintenance`` for a registered table by name: skipped while not created yet, and only
    once this catalog has claimed the warehouse (another catalog's files are never "orphans")."""
    try:
        table = load_table(table_name)
    except TableNotFoundError:
        return {"table": table_name, "skipped": "not created yet"}
    claim_warehouse(load_config())
    return run_maintenance(
        table,
        snapshot_max_age=snapshot_max_age,
        retain_last=retain_last,
        orphan_min_age=orphan_min_age,
        dry_run=dry_run,
    )


def _delete(table: Table, locations: list[str]) -> None:
    """Delete files: on S3 a thousand per request (pyarrow would also leave directory markers behind)."""
    scheme, filesystem, _ = _location(table)
    if scheme not in S3_SCHEMES:
        for location in locations:
            filesystem.delete_file(_path(location))
        return
    client = s3_client(table.io.properties)
    by_bucket: dict[str, list[str]] = {}
    for location in locations:
        bucket, _, key = _path(location).partition("/")
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            response = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            if response.get("Errors"):
                raise MaintenanceError(
                    f"S3 refused to delete {len(response['Errors'])} files: {response['Errors'][:3]}"
                )


def _location(table: Table) -> tuple[str, Any, str]:
    """(scheme, filesystem, path) of the table's location; refuses a bucket or filesystem root."""

    location = table.location().rstrip("/")
    scheme, netloc, path = PyArrowFileIO.parse_location(location)
    below_root = path[len(netloc) :] if netloc and path.startswith(netloc) else path
    if not below_root.strip("/"):
        raise MaintenanceError(f"refusing to clean {location}: a table location must not be a bucket or root")
    if not isinstance(table.io, PyArrowFileIO):
        raise MaintenanceError(
            f"orphan removal needs pyarrow's FileIO, {location} uses {type(table.io).__name__}"
        )
    return scheme, table.io.fs_by_scheme(scheme, netloc), path


def _path(location: str) -> str:
    return PyArrowFileIO.parse_location(location)[2]
