"""Table definitions: the registry, the project seam (a setting naming a module), and refused definitions."""

from __future__ import annotations

import pytest

from lambdapipe.tables.definitions import (
    Column,
    TableDefinitionError,
    TableSpec,
    registered_tables,
    table_spec,
)
from tests.support.table_registry import register_tables


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
