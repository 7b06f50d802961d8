"""Shape incoming data to a table's Arrow schema: XCom rows, Parquet staging files, or Arrow tables.

Task outputs arrive as JSON-friendly rows (timestamps and money as strings, keys missing where a
value is unknown), so conforming is a cast per column: ISO 8601 strings become timestamps (they need
an offset; naive Python datetimes are taken as UTC) or dates, decimal strings become exact decimals
(refusing any that would lose digits), and missing columns become nulls. A column the table does
not have is an error, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
from pyiceberg.io.pyarrow import PyArrowFileIO

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.io import FileIO


class ConformError(ValueError):
    """Data that does not fit the table, naming the column and what was wrong."""


def rows_to_arrow(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """An Arrow table from a list of dicts; columns are the union of keys, a missing key is null."""

    if isinstance(rows, Mapping | str | bytes):
        raise ConformError(f"rows must be a list of dicts, got {type(rows).__name__}")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ConformError(f"rows[{index}] is a {type(row).__name__}, not a dict")
    names = list(dict.fromkeys(key for row in rows for key in row))
    arrays = {}
    for name in names:
        try:
            arrays[name] = pa.array([row.get(name) for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ConformError(f"column {name!r}: values of mixed or unsupported types ({error})") from None
    return pa.table(arrays) if names else pa.table({})


def read_staging(io: FileIO, uri: str) -> pa.Table:
    """Every Parquet file at ``uri`` (one file or a prefix), read through the table's FileIO."""

    if not isinstance(io, PyArrowFileIO):
        raise ConformError(f"staging files need pyarrow's FileIO, the table uses {type(io).__name__}")
    scheme, netloc, path = PyArrowFileIO.parse_location(uri)
    try:
        return ds.dataset(path, filesystem=io.fs_by_scheme(scheme, netloc), format="parquet").to_table()
    except FileNotFoundError:
        raise ConformError(f"no Parquet staging data at {uri}") from None


def conform_table(data: pa.Table, schema: pa.Schema, *, table_name: str) -> pa.Table:
    """``data`` with the table's columns, order and types; nulls for the columns it lacks."""

    extra = [name for name in data.column_names if name not in schema.names]
    if extra:
        raise ConformError(
            f"table {table_name!r} has no column(s) {extra}; its columns are {schema.names}. "
            "Add them to the table's TableSpec, or commit with evolve_schema=True."
        )
    columns = [
        cast_column(data[field.name], field, table_name)
        if field.name in data.column_names
        else pa.nulls(data.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def cast_column(column: pa.ChunkedArray | pa.Array, field: pa.Field, table_name: str) -> Any:
    """``column`` cast to ``field``'s type, with an error that names the column on failure."""

    if column.type == field.type:
        return column
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise ConformError(
            f"table {table_name!r} column {field.name!r}: cannot convert {column.type} to {field.type}: {error}"
        ) from None
