"""Schema evolution that is always safe: add missing columns as optional, never change or drop one.

Iceberg tracks columns by id, so an added column reads as null in every older file and snapshot;
readers and writers that do not know it keep working. Type changes and drops are refused here on
purpose: they need a decision, not a side effect of a commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.schema import Schema

from lambdapipe.tables.retry import retry_on_conflict

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table


def add_missing_columns(table: Table, schema: Schema | pa.Schema) -> list[str]:
    """Add the top-level columns of ``schema`` that ``table`` lacks, as optional; returns their names.

    An Iceberg schema (from definitions.py) keeps its column docs; an Arrow schema (from the data
    being committed) is converted by pyiceberg. A no-op without a commit when nothing is missing;
    concurrent evolutions are retried on fresh metadata, so two writers adding the same column
    both succeed and the table gets it once.
    """

    def add(current: Table) -> list[str]:
        existing = {field.name for field in current.schema().fields}
        candidates = schema.fields if isinstance(schema, Schema) else list(schema)
        missing = [field for field in candidates if field.name not in existing]
        if not missing:
            return []
        with current.update_schema() as update:
            if isinstance(schema, Schema):
                for field in missing:
                    update.add_column(field.name, field.field_type, doc=field.doc)
            else:
                update.union_by_name(pa.schema([field.with_nullable(True) for field in missing]))
        return [field.name for field in missing]

    added, _ = retry_on_conflict(table, add, what=f"add columns to {'.'.join(table.name())}")
    return added
