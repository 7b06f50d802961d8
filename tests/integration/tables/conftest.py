"""Fixtures for the table tests: the local AWS stack's S3 as the warehouse, a throwaway SQLite catalog."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdapipe.tables.catalog import ensure_table, open_catalog
from lambdapipe.tables.config import TablesConfig
from lambdapipe_local import LocalAws
from tests.support.aws_setup import use_aws_default_connection

WAREHOUSE_BUCKET = "lambdapipe-tables"


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(check_signatures=True) as aws:
        yield aws


@pytest.fixture
def aws(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """A clean stack, reachable through the AWS environment variables (as a task or the CLI reach it)."""
    local_aws.reset()
    for name, value in local_aws.environ().items():
        monkeypatch.setenv(name, value)
    return local_aws


@pytest.fixture
def tables_config(aws: LocalAws, tmp_path: Path) -> TablesConfig:
    """A fresh catalog file and a warehouse prefix of its own, so no test sees another's files."""
    return TablesConfig(
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{WAREHOUSE_BUCKET}/{uuid.uuid4().hex[:8]}",
        aws_conn_id=None,
        create_bucket=True,
    )


@pytest.fixture
def catalog(tables_config: TablesConfig):
    return open_catalog(tables_config, create=True)  # as a writer opens it


@pytest.fixture
def orders(tables_config: TablesConfig, catalog):
    return ensure_table("orders", tables_config, catalog)


@pytest.fixture
def connections(
    aws: LocalAws, tables_config: TablesConfig, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> TablesConfig:
    """``aws_default`` and ``lambdapipe_tables`` pointing at the local stack and this test's catalog.

    No AWS_* variable is left, so only the connections can work, as on a deployment. Returns the
    same settings for the test's own reads.
    """
    use_aws_default_connection(aws.endpoint_url, monkeypatch)
    tables = {
        "conn_type": "generic",
        "extra": {
            "catalog_uri": tables_config.sql_uri,
            "warehouse": tables_config.warehouse,
            "create_bucket": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps(tables))
    return TablesConfig(
        catalog_uri=tables_config.sql_uri, warehouse=tables_config.warehouse, create_bucket=True
    )
