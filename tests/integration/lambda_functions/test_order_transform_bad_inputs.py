"""Bad orders: each is rejected alone, with its reason and field, and its neighbours are priced.

Every case runs in a batch between two good orders, as the transform Lambda receives them; the
batch never raises. The property test generates orders of every shape and checks the same: each
ends in exactly one of valid or rejects.
"""

from __future__ import annotations

import string
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.shipped_functions import import_function_modules

THRESHOLD = Decimal("10000.00")
ITEM = {"sku": "A", "qty": 1, "unit_price": "1.00"}


@pytest.fixture(scope="module")
def transform() -> ModuleType:
    (module,) = import_function_modules("order_transform", "transform")
    return module


def order(order_id: str = "bad", **overrides: Any) -> dict[str, Any]:
    raw = {
        "order_id": order_id,
        "customer_id": "c-1",
        "created_at": "2026-01-15T10:00:00Z",
        "status": "paid",
        "currency": "USD",
        "shipping_country": "US",
        "items": [ITEM],
    }
    return {**raw, **overrides}


def items(**overrides: Any) -> dict[str, Any]:
    return {"items": [{**ITEM, **overrides}]}


# (case id, overrides of a good order, reason, field)
BAD_ORDERS = [
    ("qty 10^30", items(qty=10**30), "out_of_range", "items[0].qty"),
    ("qty 10^30 as text", items(qty="1E+30"), "out_of_range", "items[0].qty"),
    ("qty above int32", items(qty=2**31), "out_of_range", "items[0].qty"),
    ("qty with a huge exponent", items(qty="1E+1000000"), "out_of_range", "items[0].qty"),
    (
        "quantities adding up above int32",
        {"items": [{**ITEM, "sku": s, "qty": 2**30} for s in "ABC"]},
        "out_of_range",
        "items",
    ),
    ("unit price 1e20", items(unit_price="1E+20"), "out_of_range", "items[0].unit_price"),
    (
        "unit price just at the decimal(18,2) limit",
        items(unit_price="1E+16"),
        "out_of_range",
        "items[0].unit_price",
    ),
    (
        "line total above decimal(18,2)",
        items(qty=1_000_000, unit_price="99999999999.99"),
        "out_of_range",
        "items[0].line_total",
    ),
    (
        "order total above decimal(18,2)",
        {"items": [{**ITEM, "sku": s, "qty": 1, "unit_price": "9000000000000000.00"} for s in "AB"]},
        "out_of_range",
        "order_total",
    ),
    (
        "created_at in year 1 with an offset",
        {"created_at": "0001-01-01T00:30:00+01:00"},
        "out_of_range",
        "created_at",
    ),
    (
        "created_at in year 9999 with an offset",
        {"created_at": "9999-12-31T23:30:00-01:00"},
        "out_of_range",
        "created_at",
    ),
    ("created_at before 1970", {"created_at": "1969-12-31T23:59:59Z"}, "out_of_range", "created_at"),
    ("created_at without a date", {"created_at": "10:00"}, "invalid_timestamp", "created_at"),
    ("created_at a number", {"created_at": 1768471200}, "invalid_type", "created_at"),
    ("qty NaN", items(qty="NaN"), "invalid_type", "items[0].qty"),
    ("unit price Infinity", items(unit_price="Infinity"), "invalid_type", "items[0].unit_price"),
    ("unit price a list", items(unit_price=[1]), "invalid_type", "items[0].unit_price"),
    (
        "unit price with a tiny exponent",
        items(unit_price="1E-1000000"),
        "too_many_decimals",
        "items[0].unit_price",
    ),
    ("sku a number", items(sku=7), "invalid_type", "items[0].sku"),
    ("item null", {"items": [None]}, "invalid_type", "items[0]"),
    ("currency lower-case unknown", {"currency": "usdx"}, "unknown_currency", "currency"),
    ("order id empty", {"order_id": ""}, "missing_field", "order_id"),
]


@pytest.mark.parametrize(
    ("overrides", "reason", "field"), [case[1:] for case in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS]
)
def test_a_bad_order_is_rejected_alone_with_its_reason_and_field(
    transform: ModuleType, overrides: dict[str, Any], reason: str, field: str
) -> None:
    batch = [order("before"), order(**overrides), order("after")]

    result = transform.transform_orders(batch, max_items=100, anomaly_threshold_usd=THRESHOLD)

    assert [valid["order_id"] for valid in result["valid"]] == ["before", "after"]
    [reject] = result["rejects"]
    assert (reject["reason"], reject["field"]) == (reason, field), reject["detail"]
    assert reject["detail"]


def test_an_order_id_with_surrounding_whitespace_is_kept_exactly_as_its_key(transform: ModuleType) -> None:
    result = transform.transform_orders(
        [order(" A1 "), order("A1")], max_items=100, anomaly_threshold_usd=THRESHOLD
    )

    assert [valid["order_id"] for valid in result["valid"]] == [" A1 ", "A1"], "two keys, two orders"


def test_the_largest_amounts_the_tables_hold_are_priced(transform: ModuleType) -> None:
    largest = order(items=[{"sku": "A", "qty": 1, "unit_price": "9999999999999999.99"}])

    [valid] = transform.transform_orders([largest], max_items=100, anomaly_threshold_usd=THRESHOLD)["valid"]

    assert valid["order_total"] == "9999999999999999.99"


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12),
    st.sampled_from(
        [
            "NaN",
            "1E+999999",
            "-0",
            "1e-9",
            "0.005",
            " 7 ",
            "2026-01-15T10:00:00Z",
            "0001-01-01T00:00:00+14:00",
        ]
    ),
)
RAW_ITEMS = st.lists(
    st.one_of(
        JSON_SCALARS,
        st.fixed_dictionaries(
            {}, optional={"sku": JSON_SCALARS, "qty": JSON_SCALARS, "unit_price": JSON_SCALARS}
        ),
    ),
    max_size=4,
)
RAW_ORDERS = st.one_of(
    JSON_SCALARS,
    st.fixed_dictionaries(
        {},
        optional={
            "order_id": JSON_SCALARS,
            "customer_id": JSON_SCALARS,
            "created_at": JSON_SCALARS,
            "status": JSON_SCALARS,
            "currency": st.one_of(JSON_SCALARS, st.sampled_from(["USD", "EUR", "JPY"])),
            "shipping_country": st.one_of(JSON_SCALARS, st.sampled_from(["US", "DE"])),
            "items": st.one_of(JSON_SCALARS, RAW_ITEMS),
        },
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RAW_ORDERS, max_size=6))
def test_every_generated_order_ends_valid_or_rejected_exactly_once_and_a_batch_never_raises(
    transform: ModuleType, batch: list[Any]
) -> None:
    result = transform.transform_orders(batch, max_items=3, anomaly_threshold_usd=THRESHOLD)

    assert len(result["valid"]) + len(result["rejects"]) == len(batch)
    for valid in result["valid"]:
        assert Decimal(valid["order_total_usd"]).copy_abs() < Decimal(10) ** 16
