"""One catalog per warehouse: the first catalog to write claims the location; any other is refused.

A mistyped catalog setting (another SQLite path, another database) opens a new, empty catalog over
the same S3 warehouse. It would create tables of the same names there, and ``table_maintenance`` in
either catalog would delete the other's files as orphans. So before a writer creates or changes a
table, the warehouse must hold a marker naming its catalog: written on the first write (a
conditional put, so two first writers cannot both win), compared on every later one. A catalog is
named by where it lives, never by its credentials: a rotated password is the same catalog.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

from lambdapipe.tables.config import TablesConfigError, s3_client, s3_properties

if TYPE_CHECKING:
    from lambdapipe.tables.config import TablesConfig

MARKER = ".lambdapipe-catalog.json"
_claimed: set[tuple[str, str]] = set()  # (warehouse, catalog) pairs this process has checked


class CatalogMismatchError(TablesConfigError):
    """The warehouse belongs to another catalog than the one this process is configured with."""


def catalog_location(config: TablesConfig) -> str:
    """Where the catalog lives, without credentials: ``sqlite:/abs/path``, ``postgresql://host:port/db``,
    ``glue``; with its name, since one database may hold several catalogs."""

    if config.catalog_type == "glue":
        return f"glue#{config.catalog_name}"
    url = make_url(config.sql_uri)
    backend = url.drivername.split("+")[0]
    if backend == "sqlite":
        place = str(Path(url.database).expanduser().resolve()) if url.database else ":memory:"
        return f"sqlite:{place}#{config.catalog_name}"
    return f"{backend}://{url.host or ''}:{url.port or ''}/{url.database or ''}#{config.catalog_name}"


def claim_warehouse(config: TablesConfig) -> None:
    """Claim the warehouse for this catalog, or raise ``CatalogMismatchError`` naming both catalogs."""
    bucket = config.warehouse_bucket
    if bucket is None:  # a local warehouse belongs to one machine: nothing to share
        return
    mine = catalog_location(config)
    if (config.warehouse, mine) in _claimed:
        return
    client = s3_client(s3_properties(config.aws_conn_id, config.region_name))
    key = f"{urlparse(config.warehouse).path.strip('/')}/{MARKER}".lstrip("/")
    owner = _owner(client, bucket, key)
    if owner is None:
        marker = {"catalog": mine, "claimed_at": datetime.now(UTC).isoformat()}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=json.dumps(marker).encode(), IfNoneMatch="*")
            owner = mine
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            owner = _owner(client, bucket, key)  # another writer claimed it first
    if owner != mine:
        raise CatalogMismatchError(
            f"warehouse {config.warehouse} belongs to catalog {owner}, but this process uses {mine}: "
            "check the catalog setting ([lambdapipe] tables_catalog_uri or the lambdapipe_tables "
            f"connection), or give this catalog its own warehouse (s3://{bucket}/{key} names the owner)"
        )
    _claimed.add((config.warehouse, mine))


def _owner(client: Any, bucket: str, key: str) -> str | None:
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return json.loads(body)["catalog"]
