"""Open the catalog and the tables; creating the namespace, tables (and bucket, if asked) is idempotent.

Every writer calls ``ensure_table`` before it commits, so a fresh environment needs no set-up step
and two tasks creating the same table at once both end up with the one table. It also checks that
the warehouse belongs to this catalog (``ownership``): a mistyped catalog setting fails, it does not
start a second catalog over the same files.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from pyiceberg.exceptions import NoSuchTableError

from lambdapipe.tables.config import TablesConfig, catalog_properties, load_config, s3_client, s3_properties
from lambdapipe.tables.definitions import table_spec
from lambdapipe.tables.evolution import add_missing_columns
from lambdapipe.tables.library_logs import demote_healthy_run_lines
from lambdapipe.tables.ownership import claim_warehouse
from lambdapipe.utils.s3_buckets import bucket_exists

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

demote_healthy_run_lines()

# zstd: smaller files than pyiceberg's default at a similar write speed.
TABLE_PROPERTIES = {"write.parquet.compression-codec": "zstd"}


class TableNotFoundError(LookupError):
    """The table has not been created yet (nothing was committed to it)."""


class CatalogNotFoundError(TableNotFoundError):
    """No SQLite catalog exists at the configured path: a reader never creates one (a mistyped
    setting would leave an empty catalog and its folder behind); the first writer does."""


def open_catalog(config: TablesConfig | None = None, *, create: bool = False) -> Catalog:
    """The configured catalog (``load_config()`` when no config is given). A SQLite catalog file is
    created only with ``create`` (writers); otherwise a missing one raises ``CatalogNotFoundError``."""
    config = config or load_config()
    properties = catalog_properties(config)
    # Only the configured catalog is imported: each costs ~120-150 ms, in every task that commits.
    if config.catalog_type == "glue":
        from pyiceberg.catalog.glue import GlueCatalog

        return GlueCatalog(config.catalog_name, **properties)
    from pyiceberg.catalog.sql import SqlCatalog

    database = _sqlite_file(config.sql_uri)
    if database is not None and not database.exists():
        if not create:
            raise CatalogNotFoundError(
                f"no catalog at {database}: nothing has been committed with these settings; check "
                "[lambdapipe] tables_catalog_uri or the lambdapipe_tables connection"
            )
        database.parent.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(config.catalog_name, **properties)


def ensure_table(name: str, config: TablesConfig | None = None, catalog: Catalog | None = None) -> Table:
    """The registered table ``name``, created if missing and given any column added since."""

    spec = table_spec(name)
    config = config or load_config()
    catalog = catalog or open_catalog(config, create=True)
    schema = spec.schema()
    try:
        # Load first: creating writes a metadata file before the catalog refuses a duplicate.
        table = catalog.load_table(config.identifier(name))
        claim_warehouse(config)
    except NoSuchTableError:
        if config.create_bucket:
            ensure_bucket(config)
        claim_warehouse(config)  # before anything is written: another catalog may own the warehouse
        catalog.create_namespace_if_not_exists(config.namespace)
        table = catalog.create_table_if_not_exists(
            config.identifier(name),
            schema,
            partition_spec=spec.partition_spec(schema),
            properties={**TABLE_PROPERTIES, "comment": spec.description},
        )
    add_missing_columns(table, schema)
    return table


def load_table(name: str, config: TablesConfig | None = None, catalog: Catalog | None = None) -> Table:
    """An existing table (any table in the namespace, defined here or not); never creates one."""

    config = config or load_config()
    catalog = catalog or open_catalog(config)
    try:
        return catalog.load_table(config.identifier(name))
    except NoSuchTableError:
        raise TableNotFoundError(
            f"table {config.identifier(name)!r} does not exist in catalog {config.catalog_name!r}: "
            "nothing has been committed to it yet"
        ) from None


def ensure_bucket(config: TablesConfig) -> None:
    """Create the warehouse bucket if it is missing (only called when ``create_bucket`` is set)."""

    bucket = config.warehouse_bucket
    if bucket is None:
        return
    s3 = s3_properties(config.aws_conn_id, config.region_name)
    client = s3_client(s3)
    if bucket_exists(client, bucket):
        return
    region = s3.get("s3.region")
    location = (
        {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # another writer was first
        client.create_bucket(Bucket=bucket, **location)


def _sqlite_file(uri: str) -> Path | None:
    """The file of a SQLite catalog URI (None for another database or an in-memory one)."""
    parsed = urlparse(uri)
    if parsed.scheme.startswith("sqlite") and parsed.path not in ("", "/", "/:memory:"):
        # sqlite:///relative/path has path "/relative/path"; sqlite:////abs/path has "//abs/path".
        return Path(parsed.path[1:])
    return None
