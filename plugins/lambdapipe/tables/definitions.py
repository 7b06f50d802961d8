"""Table definitions (columns, partitioning, the run key each writer replaces) and their registry.

The provider defines its own ledger, ``lambda_invocations``; a project registers its tables through
``[lambdapipe] table_definitions`` (see ``registered_tables``).

Definitions are plain data so DAG files, the CLI and Assets can list tables without importing
pyiceberg; ``TableSpec.schema()`` and ``partition_spec()`` build the pyiceberg objects when a table
is created. Every column is optional (nullable): writers may send partial rows, and adding a column
later (append it to ``columns``) is a safe schema change that existing tables pick up on next open.

Column types: ``string``, ``int``, ``long``, ``double``, ``boolean``, ``date``, ``timestamptz``,
``decimal(P,S)`` and ``list<T>`` of one of those.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdapipe import settings

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

PRIMITIVE_TYPES = ("string", "int", "long", "double", "boolean", "date", "timestamptz")
TRANSFORMS = ("identity", "year", "month", "day", "hour")
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_LIST = re.compile(r"list<(.+)>")


class TableDefinitionError(ValueError):
    """A table definition that cannot be turned into an Iceberg table."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""

    def __post_init__(self) -> None:
        if not _is_known_type(self.type):
            raise TableDefinitionError(
                f"column {self.name!r}: unknown type {self.type!r}; use one of {PRIMITIVE_TYPES}, "
                "decimal(P,S) or list<T>"
            )


@dataclass(frozen=True)
class TableSpec:
    """One table: ``run_key`` names the columns that identify one writer's rows (see writer.commit_run)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[tuple[str, str], ...] = ()  # (column, transform)
    run_key: tuple[str, ...] = ("dag_id", "run_id")

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise TableDefinitionError(f"table {self.name!r}: duplicate columns {duplicates}")
        for column, transform in self.partition_by:
            if column not in names:
                raise TableDefinitionError(
                    f"table {self.name!r}: partition column {column!r} is not a column"
                )
            if transform not in TRANSFORMS:
                raise TableDefinitionError(
                    f"table {self.name!r}: unknown partition transform {transform!r}; use one of {TRANSFORMS}"
                )
        missing_key = [column for column in self.run_key if column not in names]
        if missing_key:
            raise TableDefinitionError(f"table {self.name!r}: run key columns {missing_key} are not columns")

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def schema(self) -> Schema:
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        ids = iter(range(1, 10_000))
        fields = []
        for column in self.columns:
            field_id = next(ids)
            fields.append(
                NestedField(
                    field_id, column.name, _iceberg_type(column.type, ids), required=False, doc=column.doc
                )
            )
        return Schema(*fields)

    def partition_spec(self, schema: Schema) -> PartitionSpec:
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.transforms import (
            DayTransform,
            HourTransform,
            IdentityTransform,
            MonthTransform,
            YearTransform,
        )

        transforms = {
            "identity": IdentityTransform,
            "year": YearTransform,
            "month": MonthTransform,
            "day": DayTransform,
            "hour": HourTransform,
        }
        fields = [
            PartitionField(
                source_id=schema.find_field(column).field_id,
                field_id=1000 + position,
                transform=transforms[transform](),
                name=column if transform == "identity" else f"{column}_{transform}",
            )
            for position, (column, transform) in enumerate(self.partition_by)
        ]
        return PartitionSpec(*fields)


def _is_known_type(text: str) -> bool:
    if text in PRIMITIVE_TYPES or _DECIMAL.fullmatch(text):
        return True
    element = _LIST.fullmatch(text)
    return bool(element) and _is_known_type(element.group(1))


def _iceberg_type(text: str, ids: Any) -> Any:
    from pyiceberg import types

    primitives = {
        "string": types.StringType,
        "int": types.IntegerType,
        "long": types.LongType,
        "double": types.DoubleType,
        "boolean": types.BooleanType,
        "date": types.DateType,
        "timestamptz": types.TimestamptzType,
    }
    if text in primitives:
        return primitives[text]()
    if decimal := _DECIMAL.fullmatch(text):
        return types.DecimalType(int(decimal.group(1)), int(decimal.group(2)))
    element = _LIST.fullmatch(text)
    assert element, text  # Column.__post_init__ validated the type
    return types.ListType(next(ids), _iceberg_type(element.group(1), ids), element_required=False)


def lineage_columns(*extra: Column) -> tuple[Column, ...]:
    """The columns that say which Airflow run wrote a row (and make up the default run key)."""
    return (
        Column("dag_id", "string", "DAG that wrote the row"),
        Column("run_id", "string", "DAG run that wrote the row"),
        *extra,
    )


LAMBDA_INVOCATIONS = TableSpec(
    name="lambda_invocations",
    description="One row per Lambda invocation made by a task: outcome, duration, memory, cost.",
    columns=(
        Column("function_name", "string"),
        Column("qualifier", "string"),
        Column("executed_version", "string"),
        Column("request_id", "string"),
        Column("status", "string", "success | function_error | throttled | timeout | error"),
        Column("error_type", "string"),
        Column("duration_ms", "double"),
        Column("billed_duration_ms", "double"),
        Column("init_duration_ms", "double", "null on a warm start"),
        Column("memory_size_mb", "int"),
        Column("max_memory_used_mb", "int"),
        Column("cost_usd", "double"),
        *lineage_columns(
            Column("task_id", "string"),
            Column("map_index", "int", "null when the task is not mapped"),
            Column("try_number", "int"),
        ),
        Column("invoked_at", "timestamptz"),
    ),
    partition_by=(("invoked_at", "day"),),
)

PROVIDER_TABLES: tuple[TableSpec, ...] = (LAMBDA_INVOCATIONS,)
DEFINITIONS_SETTING = "table_definitions"


def registered_tables() -> dict[str, TableSpec]:
    """The provider's tables plus those of the modules named by ``[lambdapipe] table_definitions``.

    A project declares its tables in its own module (a ``TABLES`` sequence of ``TableSpec``) and
    names it in that setting (comma-separated for several), so the CLI, the maintenance DAG and
    ``commit_rows`` know them without the provider importing the project.
    """

    return _tables_of(settings.get(DEFINITIONS_SETTING) or "")


@functools.lru_cache(maxsize=8)
def _tables_of(module_names: str) -> dict[str, TableSpec]:
    tables = {spec.name: spec for spec in PROVIDER_TABLES}
    for module_name in filter(None, (name.strip() for name in module_names.split(","))):
        for spec in _module_tables(module_name):
            if spec.name in tables:
                raise TableDefinitionError(
                    f"[lambdapipe] {DEFINITIONS_SETTING}: {module_name} defines table {spec.name!r} again"
                )
            tables[spec.name] = spec
    return tables


def _module_tables(module_name: str) -> tuple[TableSpec, ...]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TableDefinitionError(
            f"[lambdapipe] {DEFINITIONS_SETTING}: cannot import {module_name!r}: {error}"
        ) from error
    specs = tuple(getattr(module, "TABLES", ()))
    if not specs or not all(isinstance(spec, TableSpec) for spec in specs):
        raise TableDefinitionError(
            f"[lambdapipe] {DEFINITIONS_SETTING}: {module_name} must define TABLES, a sequence of TableSpec"
        )
    return specs


def table_spec(name: str) -> TableSpec:
    """The definition of ``name``; a clear error lists the defined tables."""
    tables = registered_tables()
    try:
        return tables[name]
    except KeyError:
        raise TableDefinitionError(
            f"no table named {name!r}; defined tables: {sorted(tables)} (a project's tables are "
            f"registered by [lambdapipe] {DEFINITIONS_SETTING})"
        ) from None
