"""A fast path for DynamoDB Query and Scan: moto's own handler, without its two per-page costs.

Reading a large table through moto 5.2.5 is slow for two reasons, both measured on 100,000 orders:
its generic response serializer walks the output shape for every attribute of every item (~91% of
the server's time for a Query page), and every page re-sorts the whole table and then walks every
earlier item to find ``ExclusiveStartKey`` again, so reading N items costs O(N^2).

Here moto's ``DynamoHandler`` still parses, validates and answers each request (errors included,
with moto's codes and messages); only two steps are replaced, each by an equivalent:

- the success body of Query/Scan is ``json.dumps`` of the same result in the output shape's member
  order (the wire format of an attribute value is its stored ``{type: value}``; blobs in base64);
- the page itself: the matching items are selected and sorted by plain values and the page start is
  found by bisection, then the page is built by moto's own loop (limit, 1 MB, key conditions, index
  projection, filter and projection expressions). Whenever the fast equivalent cannot be proved the
  same (legacy ``KeyConditions``/``QueryFilter``/``ScanFilter``, multi-attribute index keys, key
  values other than S/N, mixed types, an unknown index, a malformed start key), moto's own
  ``Table.query``/``Table.scan`` answers instead.

The selected and sorted items of a query (or scan) are kept for its next pages until DynamoDB is
written to (any request but a read, or a table whose item count changed, e.g. by ImportTable's
thread): without that, each 1 MB page walked the whole table again, so reading a million orders in
~400 pages took minutes. Items sorted while a write was in progress, or with one between the start
and the end of the sort, are not kept: they may hold an item as it was before the write.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from moto.dynamodb.models import DynamoType, Item

_OPERATIONS = frozenset({"Query", "Scan"})
# Requests that never change an item: any other DynamoDB request drops the kept query orders.
_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})
_READ_PREFIXES = ("Describe", "List")
_KEPT_ORDERS = 64  # distinct queries kept at once (an order hour reads 8)
# The members of QueryOutput/ScanOutput, in the order moto's serializer writes them.
_OUTPUT_MEMBERS = ("Items", "Count", "ScannedCount", "LastEvaluatedKey", "ConsumedCapacity")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DynamoDbFastPath:
    """WSGI: answer ``dynamodb:Query``/``Scan`` (as identified by the request middleware) here, the rest via moto."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from lambdapipe_local.front.middleware import AWS_REQUEST_ENVIRON_KEY

        request = environ.get(AWS_REQUEST_ENVIRON_KEY)
        if (
            request is not None
            and request.service == "dynamodb"
            and request.operation not in _READS
            and not str(request.operation).startswith(_READ_PREFIXES)
        ):
            with _WRITES.writing():
                return self.app(environ, start_response)
        if (
            request is None
            or request.service != "dynamodb"
            or request.operation not in _OPERATIONS
            or environ.get("HTTP_ORIGIN")  # moto's app adds CORS headers to browser requests
        ):
            return self.app(environ, start_response)
        return _respond(environ, start_response)


class _Writes:
    """DynamoDB writes in progress, and a generation that every write's start and end moves on: items
    sorted under one generation with no write in progress are as the table was throughout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._in_progress = 0

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        self._moved(+1)
        _SORTED.clear()  # frees what no query may reuse now
        try:
            yield
        finally:
            self._moved(-1)

    def _moved(self, in_progress: int) -> None:
        with self._lock:
            self._generation += 1
            self._in_progress += in_progress

    def quiet_generation(self) -> int | None:
        """The generation now, or None while a write is in progress."""
        with self._lock:
            return None if self._in_progress else self._generation


_WRITES = _Writes()


def _respond(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """What moto's Flask view does for DynamoHandler.dispatch (see moto.core.utils.convert_to_flask_response)."""
    from botocore.exceptions import ClientError
    from flask import Response
    from moto import settings
    from moto.moto_api import recorder

    http_request = _server_request_class()(environ)
    try:
        recorder._record_request(http_request)
        status, headers, body = _handler_class().dispatch(
            http_request, http_request.raw_url, dict(http_request.headers)
        )
    except ClientError as error:
        status, headers, body = 400, {}, error.response["Error"]["Message"]
    response = Response(response=body, status=status, headers=headers)
    if not settings.DISABLE_GLOBAL_CORS:
        response.headers["Access-Control-Allow-Origin"] = "*"  # flask-cors on moto's app, for every origin
    return response(environ, start_response)


_classes: dict[str, type] = {}


def _server_request_class() -> type:
    """moto's normalized request, as received by its server (so ``Date`` is left to the server)."""
    if "request" not in _classes:
        from moto.core.request import Request

        _classes["request"] = type("ServerRequest", (Request,), {"from_wsgi_server": True})
    return _classes["request"]


def _handler_class() -> type:
    """moto's DynamoHandler with the fast page and the fast success body (built once: moto imports are slow)."""
    if "handler" in _classes:
        return _classes["handler"]
    from moto import settings
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    class FastDynamoHandler(DynamoHandler):
        @property
        def dynamodb_backend(self) -> Any:
            return _FastReads(dynamodb_backends[self.current_account][self.region])

        def serialized(self, action_result: ActionResult) -> tuple[int, dict[str, str], str]:
            if not isinstance(action_result, DynamoResult) or self._get_action() not in _OPERATIONS:
                return super().serialized(action_result)
            result: dict[str, Any] = action_result.result  # type: ignore[assignment]
            output = {name: result[name] for name in _OUTPUT_MEMBERS if result.get(name) is not None}
            body = json.dumps(output, indent=4 if settings.PRETTIFY_RESPONSES else None, default=_wire)
            return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

        @staticmethod
        def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
            # moto puts the request id into ``<RequestId>`` elements with a regex over the whole body
            # (1 MB for a full page); without such an element that changes nothing, so skip it.
            if isinstance(body, str) and "<RequestId>" not in body:
                enriched, _ = DynamoHandler._enrich_response(headers, "")
                return enriched, body
            return DynamoHandler._enrich_response(headers, body)

    _classes["handler"] = FastDynamoHandler
    return FastDynamoHandler


class _WireAttributes:
    """An item's attributes, left for ``json.dumps`` to write (moto's handler passes them through untouched).

    moto's handler turns every attribute of every item into plain dicts (``dynamo_to_dict``) before
    serializing: profiled at ~40% of a page. The encoder writes the same values from the stored
    DynamoTypes instead (see :func:`_wire`).
    """

    __slots__ = ("attrs",)

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs


class _WireItem:
    __slots__ = ("attrs",)

    def __init__(self, item: Any) -> None:
        self.attrs = _WireAttributes(item.attrs)


def _wire(value: Any) -> Any:
    """``json.dumps`` hook: what ``dynamo_to_dict`` then moto's serializer make of these values."""
    if type(value) is _WireAttributes:
        return value.attrs
    if isinstance(value, DynamoType):
        if value.type == "B":
            return {"B": _base64(value.value)}
        if value.type == "BS":
            return {"BS": [_base64(blob) for blob in value.value]}
        return {value.type: value.value}
    if isinstance(value, bytes):
        return base64.b64encode(value).strip().decode("utf-8")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _base64(blob: bytes | str) -> str:
    """Stored blobs are raw bytes or base64 text (as received); the wire has canonical base64."""
    raw = blob if isinstance(blob, bytes) else base64.b64decode(blob)
    return base64.b64encode(raw).strip().decode("utf-8")


class _FastReads:
    """The DynamoDB backend, with ``query``/``scan`` reading pages without re-sorting the table."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def query(
        self,
        table_name: str,
        hash_key_dict: dict[str, Any] | None,
        range_comparison: str | None,
        range_value_dicts: list[dict[str, Any]],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        expr_names: dict[str, str] | None = None,
        expr_values: dict[str, dict[str, str]] | None = None,
        filter_expression: str | None = None,
        hash_key_conditions: list[tuple[str, dict[str, Any]]] | None = None,
        range_key_conditions: list[tuple[str, str, list[dict[str, Any]]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Any], int, dict[str, Any] | None]:
        """``DynamoDBBackend.query``'s conversions, then :func:`query_page`."""
        from moto.dynamodb.models import get_filter_expression

        table = self._backend.get_table(table_name)
        items, scanned_count, last_evaluated_key = query_page(
            table,
            DynamoType(hash_key_dict) if hash_key_dict else None,
            range_comparison,
            [DynamoType(value) for value in range_value_dicts],
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            get_filter_expression(filter_expression, expr_names, expr_values),
            hash_key_conditions=[(name, DynamoType(value)) for name, value in (hash_key_conditions or [])],
            range_key_conditions=[
                (name, comparison, [DynamoType(value) for value in values])
                for name, comparison, values in (range_key_conditions or [])
            ],
            **filter_kwargs,
        )
        return [_WireItem(item) for item in items], scanned_count, last_evaluated_key

    def scan(
        self,
        table_name: str,
        filters: dict[str, Any],
        limit: int,
        exclusive_start_key: dict[str, Any],
        filter_expression: str | None,
        expr_names: dict[str, Any],
        expr_values: dict[str, Any],
        index_name: str,
        consistent_read: bool,
        projection_expression: list[list[str]] | None,
        segments: tuple[None, None] | tuple[int, int],
    ) -> tuple[list[Any], int, dict[str, Any] | None]:
        """``DynamoDBBackend.scan``'s conversions, then :func:`scan_page`."""
        from moto.dynamodb.models import get_filter_expression

        table = self._backend.get_table(table_name)
        scan_filters = {
            key: (operator, [DynamoType(value) for value in values])
            for key, (operator, values) in filters.items()
        }
        items, scanned_count, last_evaluated_key = scan_page(
            table,
            scan_filters,
            limit,
            exclusive_start_key,
            get_filter_expression(filter_expression, expr_names, expr_values),
            index_name,
            consistent_read,
            projection_expression,
            segments,
        )
        return [_WireItem(item) for item in items], scanned_count, last_evaluated_key


class _NotProvable(Exception):
    """The fast equivalent cannot be shown to answer as moto would: let moto answer."""


def query_page(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None,
    consistent_read: bool,
    filter_expression: Any,
    hash_key_conditions: list[tuple[str, Any]],
    range_key_conditions: list[tuple[str, str, list[Any]]],
    **filter_kwargs: Any,
) -> tuple[list[Any], int, dict[str, Any] | None]:
    """One page of ``Table.query`` (moto 5.2.5), equal to moto's answer; moto's own where not provably so."""
    try:
        if filter_kwargs or len(range_key_conditions) > 1:
            raise _NotProvable
        index_range_attr, sorted_items = _kept_order(
            table,
            (
                "query",
                index_name,
                consistent_read,
                range_comparison,
                _key_of(hash_key),
                _conditions_key(hash_key_conditions),
            ),
            lambda: _query_candidates(
                table, hash_key, range_comparison, index_name, consistent_read, hash_key_conditions
            ),
        )
        source = _page_source(sorted_items, exclusive_start_key, scan_index_forward)
    except _NotProvable:
        return table.query(
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions=hash_key_conditions,
            range_key_conditions=range_key_conditions,
            **filter_kwargs,
        )
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    last_range_key_name = range_key_conditions[-1][0] if range_key_conditions else None
    range_attr = last_range_key_name or (index_range_attr if index_name else None)
    # Moto's page loop, as written in Table.query (without its deepcopy: nothing here mutates items).
    results: list[Any] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    for result in source:
        size = item_size(result)
        if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        if range_comparison:
            if range_attr and result.attrs.get(range_attr) is not None:
                if not result.attrs[range_attr].compare(range_comparison, range_objs):
                    continue
            elif index_name or not result.range_key.compare(range_comparison, range_objs):
                continue
        results.append(result)
        result_size += size
        scanned_count += 1
    if index_name:
        index = table.get_index(index_name)
        results = [index.project(result) for result in results]
    return (
        _filtered_and_projected(results, filter_expression, projection_expressions),
        scanned_count,
        last_evaluated_key,
    )


def scan_page(
    table: Any,
    filters: dict[str, Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    filter_expression: Any,
    index_name: str | None,
    consistent_read: bool,
    projection_expression: list[list[str]] | None,
    segments: tuple[None, None] | tuple[int, int],
) -> tuple[list[Any], int, dict[str, Any] | None]:
    """One page of ``Table.scan`` (moto 5.2.5), equal to moto's answer; moto's own where not provably so."""
    try:
        if filters:
            raise _NotProvable
        _, sorted_items = _kept_order(
            table,
            ("scan", index_name, consistent_read),
            lambda: (*_scan_candidates(table, index_name, consistent_read), None),
        )
        source = _page_source(sorted_items, exclusive_start_key, True)
    except _NotProvable:
        return table.scan(
            filters,
            limit,
            exclusive_start_key,
            filter_expression,
            index_name,
            consistent_read,
            projection_expression,
            segments=segments,
        )
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    index = table.get_index(index_name) if index_name else None
    # Moto's page loop, as written in Table.scan (without its deepcopy: nothing here mutates items).
    results: list[Any] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    for item in source:
        if not item.is_within_segment(segments):
            continue
        size = item_size(item)
        if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(index.project(item) if index is not None else item)
        result_size += size
        scanned_count += 1
    return (
        _filtered_and_projected(results, filter_expression, projection_expression),
        scanned_count,
        last_evaluated_key,
    )


def _filtered_and_projected(results: list[Any], filter_expression: Any, projection: Any) -> list[Any]:
    """The end of moto's page: the filter applies after the page is cut (so it can come back short)."""
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection:
        results = [result.project(projection) for result in results]
    return results


def _query_candidates(
    table: Any,
    hash_key: Any,
    range_comparison: str | None,
    index_name: str | None,
    consistent_read: bool,
    hash_key_conditions: list[tuple[str, Any]],
) -> tuple[list[Any], list[str], str | None]:
    """The items Table.query considers, the attributes it orders them by, and the index's range attribute."""
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    if not index_name:
        if hash_key is None:
            raise _NotProvable
        found = table.items.get(hash_key)
        if found is None:
            candidates = []
        elif table.range_key_attr:
            candidates = list(found.values())
        else:
            candidates = [found]
        return (
            candidates,
            table._generate_attr_to_sort_by([table.hash_key_attr], [table.range_key_attr]),
            None,
        )
    index, hash_keys, range_keys = _index_keys(table, index_name, consistent_read)
    if range_keys:
        index_range_attr = range_keys[0]
    elif range_comparison:
        raise _NotProvable  # moto raises
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        index_range_attr = table.range_key_attr
    else:
        index_range_attr = table.hash_key_attr
    sort_attrs = table._generate_attr_to_sort_by(
        [*hash_keys, table.hash_key_attr], [index_range_attr, table.range_key_attr]
    )
    return _matching(table, hash_key_conditions, range_keys), sort_attrs, index_range_attr


def _scan_candidates(
    table: Any, index_name: str | None, consistent_read: bool
) -> tuple[list[Any], list[str]]:
    """The items Table.scan walks, and the attributes it orders them by."""
    if not index_name:
        return _all_items(table), table._generate_attr_to_sort_by(
            [table.hash_key_attr], [table.range_key_attr]
        )
    index, hash_keys, range_keys = _index_keys(table, index_name, consistent_read)
    range_attrs = [range_keys[0], table.range_key_attr] if range_keys else [table.range_key_attr]
    sort_attrs = table._generate_attr_to_sort_by([hash_keys[0], table.hash_key_attr], range_attrs)
    index_attrs = [key["AttributeName"] for key in index.schema]
    candidates = [item for item in _all_items(table) if all(name in item.attrs for name in index_attrs)]
    return candidates, sort_attrs


def _index_keys(table: Any, index_name: str, consistent_read: bool) -> tuple[Any, list[str], list[str]]:
    """The index and its hash and range key attributes, when the fast path handles it like moto."""
    index = {index.name: index for index in table.all_indexes()}.get(index_name)
    if index is None or (consistent_read and index in table.global_indexes):
        raise _NotProvable  # moto's validation errors
    hash_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    range_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hash_keys) != 1 or len(range_keys) > 1:
        raise _NotProvable  # moto's multi-attribute keys
    return index, hash_keys, range_keys


def _matching(table: Any, conditions: list[tuple[str, Any]], required: list[str]) -> list[Any]:
    """The items whose attributes equal every hash key condition and that have every required attribute."""
    items = _all_items(table)
    for name, expected in conditions:
        if expected.type == "S":  # DynamoType equality of strings, without computing cast values
            value = expected.value
            items = [
                item
                for item in items
                if (found := item.attrs.get(name)) is not None and found.type == "S" and found.value == value
            ]
        else:
            items = [
                item for item in items if (found := item.attrs.get(name)) is not None and found == expected
            ]
    for name in required:
        items = [item for item in items if item.attrs.get(name) is not None]
    return items


def _all_items(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [
            item for by_range in table.items.values() for item in by_range.values() if isinstance(item, Item)
        ]
    return [item for item in table.items.values() if isinstance(item, Item)]


class _SortedItems:
    """A query's (or scan's) items in moto's order, keyed for bisection, and the key columns' types."""

    __slots__ = ("attrs", "keyed", "types")

    def __init__(self, items: list[Any], attrs: list[str]) -> None:
        """Moto sorts by tuples of DynamoType (type and cast value). When each key column has a single
        type, the cast values order the same; the keys include the table's key, so are unique."""
        types: list[str] | None = None
        keyed = []
        for item in items:
            try:
                values = [item.attrs[name] for name in attrs]
            except KeyError:
                raise _NotProvable from None  # moto raises
            value_types = [value.type for value in values]
            if types is None:
                types = value_types
            elif value_types != types:
                raise _NotProvable
            keyed.append((tuple(_cast(value) for value in values), item))
        keyed.sort(key=itemgetter(0))
        self.attrs, self.keyed, self.types = attrs, keyed, types


class _KeptOrder(NamedTuple):
    """A query's sorted items and what they were sorted from: valid while all three still hold."""

    table: Any
    item_count: int
    write_generation: int
    extra: Any
    ordered: _SortedItems


_SORTED: dict[tuple[Any, ...], _KeptOrder] = {}


def _kept_order(
    table: Any, query: tuple[Any, ...], candidates: Callable[[], tuple[list[Any], list[str], Any]]
) -> tuple[Any, _SortedItems]:
    """``candidates()`` sorted (and what it returned beside them), kept for the query's next pages
    while the table is the same object with the same item count and no write came (see the module doc)."""
    key = (id(table), *query)
    count = _item_count(table)
    generation = _WRITES.quiet_generation()
    kept = _SORTED.get(key)
    if (
        kept is not None
        and kept.table is table
        and kept.item_count == count
        and kept.write_generation == generation
    ):
        return kept.extra, kept.ordered
    items, attrs, extra = candidates()
    ordered = _SortedItems(items, attrs)
    if generation is not None and _WRITES.quiet_generation() == generation:
        if len(_SORTED) >= _KEPT_ORDERS:
            _SORTED.clear()
        _SORTED[key] = _KeptOrder(table, count, generation, extra, ordered)
    return extra, ordered


def _item_count(table: Any) -> int:
    if table.range_key_attr:
        return sum(len(by_range) for by_range in table.items.values())
    return len(table.items)


def _key_of(value: Any) -> Any:
    return None if value is None else (value.type, repr(value.value))


def _conditions_key(conditions: list[tuple[str, Any]]) -> tuple[Any, ...]:
    return tuple((name, _key_of(value)) for name, value in conditions)


def _page_source(ordered: _SortedItems, start_key: dict[str, Any] | None, forward: bool) -> Iterator[Any]:
    """The items in moto's order, from the first one its page loop does not skip as before the start key.

    Moto skips while ``_item_comes_before_dct`` (at or before the start key, in the direction read):
    a prefix, found by bisection.
    """
    keyed = ordered.keyed
    if start_key is None or not keyed:
        return _items(keyed, range(len(keyed)) if forward else range(len(keyed) - 1, -1, -1))
    try:
        start = [DynamoType(start_key[name]) for name in ordered.attrs]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise _NotProvable from error  # moto raises
    if [value.type for value in start] != ordered.types:
        raise _NotProvable
    start_cast = tuple(_cast(value) for value in start)
    if forward:
        return _items(keyed, range(bisect_right(keyed, start_cast, key=itemgetter(0)), len(keyed)))
    return _items(keyed, range(bisect_left(keyed, start_cast, key=itemgetter(0)) - 1, -1, -1))


def _items(keyed: list[tuple[Any, Any]], positions: range) -> Iterator[Any]:
    """The items at ``positions``, lazily: a page stops after 1 MB, not at the end of the table."""
    return (keyed[position][1] for position in positions)


def _cast(value: Any) -> Any:
    """A key value as moto compares it (``DynamoType.cast_value``), for S and N only."""
    if value.type == "S" and isinstance(value.value, str):
        return value.value
    if value.type == "N":
        try:
            return Decimal(value.value)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise _NotProvable from error
    raise _NotProvable


def item_size(item: Any) -> int:
    """``Item.size()`` (what moto counts against the 1 MB page), computed without building DynamoTypes."""
    return sum(_bytesize(name) + _value_size(value) for name, value in item.attrs.items())


def _value_size(value: Any) -> int:
    """``DynamoType.size()``, branch for branch (strings first: the common case)."""
    kind, content = value.type, value.value
    if kind == "S" and type(content) is str:
        return len(content) if content.isascii() else len(content.encode("utf-8"))
    if kind == "N":
        return len(str(content))
    if kind == "NS":
        return sum(len(str(member)) for member in content)
    if kind in ("SS", "BS"):
        return sum(1 if isinstance(member, bool) else _bytesize(member) for member in content)
    if kind == "L":
        return sum(_value_size(member) for member in content)
    if kind == "M":
        return sum(
            _bytesize(key) + _value_size(member if isinstance(member, DynamoType) else DynamoType(member))
            for key, member in content.items()
        )
    if isinstance(content, bool):
        return 1
    return _bytesize(content)


def _bytesize(text: str | bytes) -> int:
    if type(text) is str and text.isascii():
        return len(text)
    return len(text if isinstance(text, bytes) else text.encode("utf-8"))
