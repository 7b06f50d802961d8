"""The five tables are created as defined, idempotently, and take the rows their producers emit."""

from __future__ import annotations

import pytest

from lambdapipe.invoking.metrics import InvocationRecord
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import rows_to_arrow
from lambdapipe.tables.definitions import (
    Column,
    TableDefinitionError,
    TableSpec,
    registered_tables,
    table_spec,
)
from lambdapipe.tables.query import read_table
from lambdapipe.tables.writer import commit_run
from tests.support.table_registry import register_tables

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


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (lambda: Column("a", "varchar"), r"column 'a': unknown type 'varchar'"),
        (
            lambda: TableSpec("t", "d", (Column("a", "string"),), partition_by=(("b", "day"),)),
            r"partition column 'b' is not a column",
        ),
        (
            lambda: TableSpec("t", "d", (Column("a", "string"),), partition_by=(("a", "week"),)),
            r"unknown partition transform 'week'",
        ),
        (
            lambda: TableSpec("t", "d", (Column("a", "string"),)),
            r"run key columns \['dag_id', 'run_id'\] are not columns",
        ),
    ],
    ids=["type", "partition column", "transform", "run key"],
)
def test_definitions_that_cannot_work_are_refused(spec, message) -> None:
    with pytest.raises(TableDefinitionError, match=message):
        spec()


def test_unknown_table_names_list_the_defined_ones() -> None:
    with pytest.raises(TableDefinitionError, match=r"no table named 'order'; defined tables: \[.*'orders'"):
        table_spec("order")


def test_without_a_project_setting_only_the_providers_ledger_is_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS", "")

    assert list(registered_tables()) == ["lambda_invocations"]


def test_a_projects_module_registers_its_tables_beside_the_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    events = TableSpec("events", "an event per row", (Column("dag_id", "string"), Column("run_id", "string")))
    register_tables(monkeypatch, events)

    assert list(registered_tables()) == ["lambda_invocations", "events"]
    assert table_spec("events") is events


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("no_such_module_anywhere", r"table_definitions: cannot import 'no_such_module_anywhere'"),
        ("json", r"table_definitions: json must define TABLES, a sequence of TableSpec"),
    ],
)
def test_a_setting_naming_an_unusable_module_says_which_and_why(
    monkeypatch: pytest.MonkeyPatch, module: str, message: str
) -> None:
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS", module)

    with pytest.raises(TableDefinitionError, match=message):
        registered_tables()


def test_a_project_table_named_like_the_providers_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    clash = TableSpec("lambda_invocations", "mine", (Column("dag_id", "string"), Column("run_id", "string")))
    module = register_tables(monkeypatch, clash)

    with pytest.raises(TableDefinitionError, match=rf"{module} defines table 'lambda_invocations' again"):
        registered_tables()
