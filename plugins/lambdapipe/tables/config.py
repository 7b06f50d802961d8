"""Where the tables live: the Iceberg catalog and the S3 warehouse, and how to reach S3.

Each setting is taken from the first of these that has it:

1. keyword arguments to ``load_config(...)``;
2. the extra of the Airflow connection ``lambdapipe_tables`` (any type, e.g. generic), for example
   ``{"catalog_uri": "postgresql+psycopg2://user:pw@db:5432/catalog",
   "warehouse": "s3://analytics/warehouse", "aws_conn_id": "aws_default", "create_bucket": true}``;
3. ``[lambdapipe] tables_<setting>`` in airflow.cfg (or ``AIRFLOW__LAMBDAPIPE__TABLES_<SETTING>``);
4. the defaults: a pyiceberg ``SqlCatalog`` on SQLite at ``$AIRFLOW_HOME/lambdapipe/catalog.db``
   (one machine only: use Postgres as soon as workers run on several hosts) and the warehouse
   ``s3://lambdapipe-tables/warehouse`` reached through the ``aws_default`` connection.

S3 is reached with pyarrow's S3 FileIO (not s3fs): its endpoint, region and credentials come from
the AWS connection (extra ``endpoint_url``, ``region_name``, login/password or any other way the
amazon provider resolves credentials) or, with ``aws_conn_id=None``, from the AWS environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...). On AWS, ``catalog_type="glue"`` keeps the
catalog in the Glue Data Catalog instead, reached with the same connection (tested against the
local stack's Glue only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lambdapipe import settings

DEFAULT_CONN_ID = "lambdapipe_tables"
DEFAULT_WAREHOUSE = "s3://lambdapipe-tables/warehouse"
CATALOG_TYPES = ("sql", "glue")
S3_SCHEMES = ("s3", "s3a", "s3n")
PY_IO_IMPL = "pyiceberg.io.pyarrow.PyArrowFileIO"


class TablesConfigError(ValueError):
    """Table settings that cannot work, naming the setting and where it came from."""


@dataclass(frozen=True)
class TablesConfig:
    """Catalog and warehouse settings; ``catalog_uri`` is a SQLAlchemy URL (None: the SQLite default)."""

    catalog_uri: str | None = None
    warehouse: str = DEFAULT_WAREHOUSE
    namespace: str = "lambdapipe"
    catalog_type: str = "sql"
    catalog_name: str = "lambdapipe"
    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    create_bucket: bool = False

    def __post_init__(self) -> None:
        if self.catalog_type not in CATALOG_TYPES:
            raise TablesConfigError(f"catalog_type {self.catalog_type!r} is not one of {CATALOG_TYPES}")
        if not urlparse(self.warehouse).scheme:
            raise TablesConfigError(f"warehouse {self.warehouse!r} must be a URI such as s3://bucket/prefix")
        if not self.namespace or "." in self.namespace:
            raise TablesConfigError(f"namespace {self.namespace!r} must be one non-empty name without dots")
        if self.catalog_type == "glue" and self.catalog_uri:
            raise TablesConfigError("catalog_uri applies to catalog_type 'sql' only; Glue needs none")

    @property
    def sql_uri(self) -> str:
        """The SQLAlchemy URL of a ``sql`` catalog."""
        if self.catalog_uri:
            return self.catalog_uri
        airflow_home = Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
        return f"sqlite:///{airflow_home / 'lambdapipe' / 'catalog.db'}"

    @property
    def warehouse_bucket(self) -> str | None:
        """The warehouse's S3 bucket, or None for a non-S3 warehouse."""
        parsed = urlparse(self.warehouse)
        return parsed.netloc if parsed.scheme in S3_SCHEMES else None

    def identifier(self, table_name: str) -> str:
        return f"{self.namespace}.{table_name}"


SETTINGS = tuple(item.name for item in fields(TablesConfig))


def load_config(conn_id: str | None = DEFAULT_CONN_ID, **overrides: Any) -> TablesConfig:
    """Resolve the settings (arguments, connection extra, ``[lambdapipe]`` settings, defaults)."""
    unknown = sorted(set(overrides) - set(SETTINGS))
    if unknown:
        raise TablesConfigError(f"unknown table settings {unknown}; known: {list(SETTINGS)}")
    values: dict[str, Any] = _airflow_settings()
    if conn_id:
        values.update(_connection_settings(conn_id))
    values.update({key: value for key, value in overrides.items() if value is not None})
    if "create_bucket" in values:
        values["create_bucket"] = _as_bool(values["create_bucket"], "create_bucket")
    return TablesConfig(**values)


def catalog_properties(config: TablesConfig) -> dict[str, str]:
    """The pyiceberg catalog properties: catalog location plus pyarrow S3 FileIO settings."""
    properties = {"py-io-impl": PY_IO_IMPL, "warehouse": config.warehouse}
    s3 = s3_properties(config.aws_conn_id, config.region_name)
    properties.update(s3)
    if config.catalog_type == "sql":
        properties["uri"] = config.sql_uri
    else:
        # The Glue client uses the same endpoint, account and region as the warehouse.
        properties.update({key.replace("s3.", "glue.", 1): value for key, value in s3.items()})
    return properties


def s3_properties(aws_conn_id: str | None, region_name: str | None = None) -> dict[str, str]:
    """pyiceberg ``s3.*`` properties from an Airflow AWS connection, or from the AWS environment."""
    if aws_conn_id:
        endpoint, region, credentials = _from_connection(aws_conn_id, region_name)
    else:
        endpoint, region, credentials = _from_environment(region_name)
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    properties: dict[str, str] = {}
    if endpoint:
        properties["s3.endpoint"] = endpoint
    # Without a region pyiceberg asks AWS where the bucket is: fine on AWS, impossible offline.
    region = region or ("us-east-1" if endpoint else None)
    if region:
        properties["s3.region"] = region
    if credentials is not None:
        properties["s3.access-key-id"] = credentials.access_key
        properties["s3.secret-access-key"] = credentials.secret_key
        if credentials.token:
            properties["s3.session-token"] = credentials.token
    return properties


def s3_client(properties: Mapping[str, str]) -> Any:
    """A boto3 S3 client for the same endpoint, region and credentials as the ``s3.*`` properties."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=properties.get("s3.endpoint"),
        region_name=properties.get("s3.region"),
        aws_access_key_id=properties.get("s3.access-key-id"),
        aws_secret_access_key=properties.get("s3.secret-access-key"),
        aws_session_token=properties.get("s3.session-token"),
    )


def _from_connection(aws_conn_id: str, region_name: str | None) -> tuple[str | None, str | None, Any]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

    hook = AwsGenericHook(aws_conn_id=aws_conn_id, client_type="s3", region_name=region_name)
    region = hook.conn_region_name
    credentials = hook.get_session(region_name=region).get_credentials()
    endpoint = hook.conn_config.get_service_endpoint_url("s3")
    return endpoint, region, credentials.get_frozen_credentials() if credentials else None


def _from_environment(region_name: str | None) -> tuple[str | None, str | None, Any]:
    import boto3

    session = boto3.session.Session(region_name=region_name)
    credentials = session.get_credentials()
    return None, session.region_name, credentials.get_frozen_credentials() if credentials else None


def _airflow_settings() -> dict[str, Any]:
    values = {}
    for setting in SETTINGS:
        value = settings.get(f"tables_{setting}")
        if value is not None:
            values[setting] = value
    return values


def _connection_settings(conn_id: str) -> dict[str, Any]:
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return {}
    extra = connection.extra_dejson
    unknown = sorted(set(extra) - set(SETTINGS))
    if unknown:
        raise TablesConfigError(
            f"connection {conn_id!r}: unknown keys {unknown} in its extra; known: {list(SETTINGS)}"
        )
    return dict(extra)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise TablesConfigError(f"{name} must be true or false, got {value!r}")
