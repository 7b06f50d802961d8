"""The five tables are created as defined, idempotently, and take the rows their producers emit."""

from __future__ import annotations

from lambdapipe.invoking.metrics import InvocationRecord
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import rows_to_arrow
from lambdapipe.tables.definitions import (
    registered_tables,
)
from lambdapipe.tables.query import read_table
from lambdapipe.tables.writer import commit_run

# The provider's ledger and the demo's tables (registered by the suite's [lambdapipe] table_definitions).
PARTITIONS = {
    "uploads": [("processed_at_day", "day")],
    "orders": [("order_date", "identity")],
    "order_rejects": [("rejected_at_day", "day")],
    "lambda_invocations": [("invoked_at_day", "day")],
    "pipeline_runs": [],
}


def test_every_table_is_created_with_its_columns_and_partitioning(
    tables_config: TablesConfig, catalog
) -> None:
    for name, spec in registered_tables().items():
        table = ensure_table(name, tables_config, catalog)

        assert [field.name for field in table.schema().fields] == spec.column_names
        assert [str(field.transform) for field in table.spec().fields] == [t for _, t in spec.partition_by]
        assert table.properties["comment"] == spec.description
    for name, partitioning in PARTITIONS.items():
        table = catalog.load_table(tables_config.identifier(name))
        assert [(field.name, str(field.transform)) for field in table.spec().fields] == partitioning


def test_ensure_table_is_idempotent_and_writes_nothing_when_the_table_exists(
    tables_config: TablesConfig, catalog
) -> None:
    first = ensure_table("uploads", tables_config, catalog)
    again = ensure_table("uploads", tables_config, catalog)

    assert again.metadata.table_uuid == first.metadata.table_uuid
    assert again.metadata_location == first.metadata_location


def test_an_invocation_record_commits_to_lambda_invocations(tables_config: TablesConfig) -> None:
    record = InvocationRecord(
        function_name="order_transform",
        qualifier="live",
        executed_version="3",
        request_id="req-1",
        status="success",
        error_type=None,
        duration_ms=12.5,
        billed_duration_ms=13.0,
        init_duration_ms=None,
        memory_size_mb=128,
        max_memory_used_mb=60,
        cost_usd=2.3e-7,
        dag_id="orders_pipeline",
        run_id="r1",
        task_id="transform",
        map_index=None,
        try_number=1,
        invoked_at="2026-01-15T10:00:00+00:00",
    )
    table = ensure_table("lambda_invocations", tables_config)

    commit_run(table, rows_to_arrow([record.to_dict()]), {"dag_id": "orders_pipeline", "run_id": "r1"})

    [stored] = read_table(table).to_pylist()
    assert (stored["request_id"], stored["init_duration_ms"], stored["map_index"]) == ("req-1", None, None)
