"""Check one raw order and parse it into typed values, or say what is wrong with it.

Raw order: ``order_id``, ``customer_id``, ``created_at`` (ISO 8601), ``status``, ``currency``,
``shipping_country``, ``items: [{sku, qty, unit_price}]``. Checks run in a fixed order and the
first failure is reported as ``Rejection(reason, field)``, with ``field`` a path such as
``items[2].qty``. Numbers may arrive as JSON numbers or decimal strings (DynamoDB's Decimals are
serialized as strings); booleans, lists, objects and non-numeric strings are wrong types.
A timestamp without an offset is taken as UTC. Values the order tables cannot hold are rejected
here (``out_of_range``), with the columns' own limits: a quantity is an ``int``, money a
``decimal(18,2)``; ``created_at`` lies in [1970, 9999) so its hour and day can be computed.
An ``order_id`` is kept exactly as sent (whitespace included): it is the source table's key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from rates import USD_PER_UNIT

MISSING_FIELD = "missing_field"
INVALID_TYPE = "invalid_type"
INVALID_TIMESTAMP = "invalid_timestamp"
UNKNOWN_CURRENCY = "unknown_currency"
INVALID_COUNTRY = "invalid_country"
NO_ITEMS = "no_items"
TOO_MANY_ITEMS = "too_many_items"
NON_POSITIVE_QTY = "non_positive_qty"
NEGATIVE_PRICE = "negative_price"
TOO_MANY_DECIMALS = "too_many_decimals"
DUPLICATE_SKU = "duplicate_sku"
OUT_OF_RANGE = "out_of_range"

MAX_INT = 2**31 - 1  # the tables' int columns (qty, quantity_total)
MONEY_LIMIT = Decimal(10) ** 16  # decimal(18,2) holds amounts below this
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # leaves room for the hour and day that follow

_COUNTRY = re.compile(r"[A-Z]{2}")


class Rejection(Exception):
    def __init__(self, reason: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


@dataclass(frozen=True)
class Item:
    sku: str
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    created_at: datetime
    status: str
    currency: str
    shipping_country: str
    items: tuple[Item, ...]


def _required(raw: dict[str, Any], name: str, path: str) -> Any:
    if raw.get(name) is None:
        raise Rejection(MISSING_FIELD, path, f"{path} is required")
    return raw[name]


def _text(raw: dict[str, Any], name: str, path: str | None = None, *, strip: bool = True) -> str:
    path = path or name
    value = _required(raw, name, path)
    if not isinstance(value, str):
        raise Rejection(INVALID_TYPE, path, f"{path} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise Rejection(MISSING_FIELD, path, f"{path} must not be blank")
    return value.strip() if strip else value


def check_money(amount: Decimal, path: str) -> Decimal:
    """``amount`` if a decimal(18,2) column can hold it, else an ``out_of_range`` rejection."""
    if abs(amount) >= MONEY_LIMIT:
        raise Rejection(OUT_OF_RANGE, path, f"{path} is {amount:.2E}; amounts must be below 1E+16")
    return amount


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Rejection(INVALID_TYPE, path, f"{path} must be a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Rejection(INVALID_TYPE, path, f"{path} must be a number, got {value!r:.40}") from None
    if not number.is_finite():
        raise Rejection(INVALID_TYPE, path, f"{path} must be a finite number, got {value!r:.40}")
    return number


def _timestamp(raw: dict[str, Any]) -> datetime:
    text = _text(raw, "created_at")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Rejection(
            INVALID_TIMESTAMP, "created_at", f"created_at is not ISO 8601: {text!r:.40}"
        ) from None
    offset = parsed.utcoffset() or timedelta(0)
    wall_time = parsed.replace(tzinfo=None)
    if not EARLIEST.replace(tzinfo=None) + offset <= wall_time < LATEST.replace(tzinfo=None) + offset:
        raise Rejection(
            OUT_OF_RANGE, "created_at", f"created_at {text!r:.40} is not between 1970 and 9999 (UTC)"
        )
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _item(raw: Any, path: str) -> Item:
    if not isinstance(raw, dict):
        raise Rejection(INVALID_TYPE, path, f"{path} must be an object, got {type(raw).__name__}")
    sku = _text(raw, "sku", f"{path}.sku")
    qty = _decimal(_required(raw, "qty", f"{path}.qty"), f"{path}.qty")
    if qty != qty.to_integral_value():
        raise Rejection(INVALID_TYPE, f"{path}.qty", f"{path}.qty must be a whole number, got {qty}")
    if qty <= 0:
        raise Rejection(NON_POSITIVE_QTY, f"{path}.qty", f"{path}.qty must be above 0, got {qty}")
    if qty > MAX_INT:
        raise Rejection(OUT_OF_RANGE, f"{path}.qty", f"{path}.qty is {qty:.2E}; at most {MAX_INT}")
    price = _decimal(_required(raw, "unit_price", f"{path}.unit_price"), f"{path}.unit_price")
    if price < 0:
        raise Rejection(NEGATIVE_PRICE, f"{path}.unit_price", f"{path}.unit_price must not be negative")
    if -price.normalize().as_tuple().exponent > 2:
        raise Rejection(
            TOO_MANY_DECIMALS, f"{path}.unit_price", f"{path}.unit_price has more than 2 decimals"
        )
    return Item(sku=sku, qty=int(qty), unit_price=check_money(price, f"{path}.unit_price"))


def _items(raw: dict[str, Any], max_items: int) -> tuple[Item, ...]:
    items = _required(raw, "items", "items")
    if not isinstance(items, list):
        raise Rejection(INVALID_TYPE, "items", f"items must be a list, got {type(items).__name__}")
    if not items:
        raise Rejection(NO_ITEMS, "items", "an order needs at least one item")
    if len(items) > max_items:
        raise Rejection(TOO_MANY_ITEMS, "items", f"{len(items)} items; at most {max_items} per order")
    parsed: list[Item] = []
    seen: set[str] = set()
    for index, raw_item in enumerate(items):
        item = _item(raw_item, f"items[{index}]")
        if item.sku in seen:
            raise Rejection(
                DUPLICATE_SKU, f"items[{index}].sku", f"sku {item.sku!r} appears twice in the order"
            )
        seen.add(item.sku)
        parsed.append(item)
    if sum(item.qty for item in parsed) > MAX_INT:
        raise Rejection(OUT_OF_RANGE, "items", f"the order's quantities add up to more than {MAX_INT}")
    return tuple(parsed)


def parse_order(raw: Any, max_items: int) -> Order:
    """The typed order, or :class:`Rejection` for the first problem found."""
    if not isinstance(raw, dict):
        raise Rejection(INVALID_TYPE, "order", f"an order must be an object, got {type(raw).__name__}")
    order_id = _text(raw, "order_id", strip=False)
    customer_id = _text(raw, "customer_id")
    created_at = _timestamp(raw)
    status = _text(raw, "status").lower()
    currency = _text(raw, "currency").upper()
    if currency not in USD_PER_UNIT:
        raise Rejection(UNKNOWN_CURRENCY, "currency", f"currency {currency!r:.10} is not in the rate table")
    country = _text(raw, "shipping_country").upper()
    if not _COUNTRY.fullmatch(country):
        raise Rejection(INVALID_COUNTRY, "shipping_country", f"not an ISO 3166 alpha-2 code: {country!r:.10}")
    return Order(order_id, customer_id, created_at, status, currency, country, _items(raw, max_items))
