"""The same write path with the catalog in Postgres (the compose stack, distributed runs) or in Glue.

Postgres: the test role on 127.0.0.1:5432 (``make test`` creates it); each test creates its own
database and drops it afterwards. Glue: the local stack's (moto's) Glue, not AWS's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lambdapipe.tables.catalog import ensure_table, open_catalog
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.query import read_table, snapshot_for_run
from lambdapipe.tables.writer import airflow_snapshot_properties, commit_run
from tests.support.order_rows import DAG_ID, order_ids, order_table, run_key
from tests.support.prerequisites import POSTGRES_URL


def _admin(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(POSTGRES_URL, connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    database = f"lambdapipe_tables_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{database}"')
    yield POSTGRES_URL.replace("postgresql://", "postgresql+psycopg2://").rsplit("/", 1)[0] + f"/{database}"
    _admin(f'DROP DATABASE "{database}" WITH (FORCE)')  # FORCE: the catalog's pooled connections


def test_commit_recommit_and_time_travel_with_a_postgres_catalog(
    postgres_uri: str, tables_config: TablesConfig
) -> None:
    config = TablesConfig(
        catalog_uri=postgres_uri, warehouse=tables_config.warehouse, aws_conn_id=None, create_bucket=True
    )
    catalog = open_catalog(config)
    orders = ensure_table("orders", config, catalog)

    commit_run(
        orders, order_table("r1", 5), run_key("r1"), airflow_snapshot_properties(DAG_ID, "r1", "load", 1)
    )
    commit_run(
        orders, order_table("r2", 3), run_key("r2"), airflow_snapshot_properties(DAG_ID, "r2", "load", 1)
    )
    commit_run(orders, order_table("r1", 5, tag="again-"), run_key("r1"))

    reloaded = open_catalog(config).load_table(config.identifier("orders"))
    assert reloaded.metadata_location == orders.metadata_location
    assert order_ids(read_table(reloaded)) == sorted(
        order_ids(order_table("r1", 5, tag="again-")) + order_ids(order_table("r2", 3))
    )
    after_r2 = snapshot_for_run(reloaded, "r2")
    assert read_table(reloaded, snapshot_id=after_r2.snapshot_id).num_rows == 8


def test_commit_and_recommit_with_a_glue_catalog(tables_config: TablesConfig) -> None:
    config = TablesConfig(
        catalog_type="glue", warehouse=tables_config.warehouse, aws_conn_id=None, create_bucket=True
    )
    orders = ensure_table("orders", config)

    commit_run(orders, order_table("r1", 5), run_key("r1"))
    commit_run(orders, order_table("r1", 5, tag="again-"), run_key("r1"))

    reloaded = open_catalog(config).load_table(config.identifier("orders"))
    assert order_ids(read_table(reloaded)) == order_ids(order_table("r1", 5, tag="again-"))
