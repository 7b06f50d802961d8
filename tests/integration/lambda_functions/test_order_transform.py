"""order_transform: validation, USD pricing with Decimal, anomalies; pure and deterministic."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from lambdapipe.packaging import load_manifest, load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke, import_function_modules

THRESHOLD = Decimal("10000.00")


@pytest.fixture(scope="module")
def transform() -> ModuleType:
    (module,) = import_function_modules("order_transform", "transform")
    return module


def order(**overrides: Any) -> dict[str, Any]:
    raw = {
        "order_id": "o-1",
        "customer_id": "c-1",
        "created_at": "2026-01-15T10:00:00Z",
        "status": "paid",
        "currency": "USD",
        "shipping_country": "US",
        "items": [{"sku": "A", "qty": 2, "unit_price": "19.99"}, {"sku": "B", "qty": 1, "unit_price": 5}],
    }
    return {**raw, **overrides}


def run(transform: ModuleType, *orders: Any, max_items: int = 100) -> dict[str, Any]:
    return transform.transform_orders(list(orders), max_items=max_items, anomaly_threshold_usd=THRESHOLD)


def test_valid_order_is_priced_with_exact_decimal_strings(transform: ModuleType) -> None:
    result = run(transform, order(currency="eur", shipping_country="de", status="SHIPPED"))

    assert result["rejects"] == []
    assert result["valid"] == [
        {
            "order_id": "o-1",
            "customer_id": "c-1",
            "created_at": "2026-01-15T10:00:00Z",
            "status": "shipped",
            "shipping_country": "DE",
            "currency": "EUR",
            "usd_per_unit": "1.08",
            "rates_version": "2026-01-static",
            "items": [
                {
                    "sku": "A",
                    "qty": 2,
                    "unit_price": "19.99",
                    "line_total": "39.98",
                    "line_total_usd": "43.18",
                },
                {"sku": "B", "qty": 1, "unit_price": "5.00", "line_total": "5.00", "line_total_usd": "5.40"},
            ],
            "item_count": 2,
            "quantity_total": 3,
            "order_total": "44.98",
            "order_total_usd": "48.58",
            "anomalies": [],
        }
    ]


def test_order_total_usd_is_the_sum_of_rounded_lines(transform: ModuleType) -> None:
    items = [{"sku": f"S{index}", "qty": 1, "unit_price": "0.05"} for index in range(3)]

    (priced,) = run(transform, order(currency="JPY", items=items))["valid"]

    # 0.05 JPY * 0.0067 rounds to 0.00 per line; the order total is the sum of the lines, not 0.15 * rate.
    assert [line["line_total_usd"] for line in priced["items"]] == ["0.00"] * 3
    assert priced["order_total_usd"] == "0.00"


def test_timestamps_are_normalized_to_utc(transform: ModuleType) -> None:
    result = run(
        transform, order(created_at="2026-01-15T11:30:00+01:00"), order(created_at="2026-01-15T10:30:00")
    )

    assert [valid["created_at"] for valid in result["valid"]] == ["2026-01-15T10:30:00Z"] * 2


def test_total_above_the_threshold_is_flagged_not_rejected(transform: ModuleType) -> None:
    result = run(transform, order(items=[{"sku": "GOLD", "qty": 1, "unit_price": "10000.01"}]))

    assert result["valid"][0]["anomalies"] == ["high_total"]
    assert (
        run(transform, order(items=[{"sku": "GOLD", "qty": 1, "unit_price": "10000.00"}]))["valid"][0][
            "anomalies"
        ]
        == []
    )


INVALID = [
    ({"order_id": None}, None, "missing_field", "order_id"),
    ({"order_id": 17}, None, "invalid_type", "order_id"),
    ({"customer_id": "  "}, "o-1", "missing_field", "customer_id"),
    ({"created_at": "15/01/2026"}, "o-1", "invalid_timestamp", "created_at"),
    ({"status": ["paid"]}, "o-1", "invalid_type", "status"),
    ({"currency": "XYZ"}, "o-1", "unknown_currency", "currency"),
    ({"shipping_country": "USA"}, "o-1", "invalid_country", "shipping_country"),
    ({"items": []}, "o-1", "no_items", "items"),
    ({"items": {"sku": "A"}}, "o-1", "invalid_type", "items"),
    (
        {"items": [{"sku": f"S{n}", "qty": 1, "unit_price": 1} for n in range(4)]},
        "o-1",
        "too_many_items",
        "items",
    ),
    ({"items": ["A"]}, "o-1", "invalid_type", "items[0]"),
    ({"items": [{"qty": 1, "unit_price": 1}]}, "o-1", "missing_field", "items[0].sku"),
    ({"items": [{"sku": "A", "qty": 0, "unit_price": 1}]}, "o-1", "non_positive_qty", "items[0].qty"),
    ({"items": [{"sku": "A", "qty": -2, "unit_price": 1}]}, "o-1", "non_positive_qty", "items[0].qty"),
    ({"items": [{"sku": "A", "qty": 1.5, "unit_price": 1}]}, "o-1", "invalid_type", "items[0].qty"),
    ({"items": [{"sku": "A", "qty": True, "unit_price": 1}]}, "o-1", "invalid_type", "items[0].qty"),
    ({"items": [{"sku": "A", "qty": "two", "unit_price": 1}]}, "o-1", "invalid_type", "items[0].qty"),
    ({"items": [{"sku": "A", "qty": 1, "unit_price": "NaN"}]}, "o-1", "invalid_type", "items[0].unit_price"),
    ({"items": [{"sku": "A", "qty": 1, "unit_price": None}]}, "o-1", "missing_field", "items[0].unit_price"),
    (
        {"items": [{"sku": "A", "qty": 1, "unit_price": "-1.00"}]},
        "o-1",
        "negative_price",
        "items[0].unit_price",
    ),
    (
        {"items": [{"sku": "A", "qty": 1, "unit_price": "1.005"}]},
        "o-1",
        "too_many_decimals",
        "items[0].unit_price",
    ),
    (
        {"items": [{"sku": "A", "qty": 1, "unit_price": 0.1 + 0.2}]},
        "o-1",
        "too_many_decimals",
        "items[0].unit_price",
    ),
    (
        {"items": [{"sku": "A", "qty": 1, "unit_price": 1}, {"sku": "A", "qty": 2, "unit_price": 1}]},
        "o-1",
        "duplicate_sku",
        "items[1].sku",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "order_id", "reason", "field"), INVALID, ids=[case[2] + ":" + case[3] for case in INVALID]
)
def test_invalid_order_is_rejected_with_reason_and_field(
    transform: ModuleType, overrides: dict[str, Any], order_id: str | None, reason: str, field: str
) -> None:
    result = run(transform, order(**overrides), max_items=3)

    assert result["valid"] == []
    (reject,) = result["rejects"]
    assert (reject["order_id"], reject["reason"], reject["field"]) == (order_id, reason, field)
    assert reject["detail"]


def test_non_object_order_is_rejected_and_the_batch_goes_on(transform: ModuleType) -> None:
    result = run(transform, "not an order", order(order_id="o-2"))

    assert result["rejects"] == [
        {
            "order_id": None,
            "reason": "invalid_type",
            "field": "order",
            "detail": "an order must be an object, got str",
        }
    ]
    assert [valid["order_id"] for valid in result["valid"]] == ["o-2"]


def test_numbers_as_strings_and_trailing_zeros_are_accepted(transform: ModuleType) -> None:
    items = [{"sku": "A", "qty": "3", "unit_price": "12.500"}, {"sku": "B", "qty": 2.0, "unit_price": 1e1}]

    (priced,) = run(transform, order(items=items))["valid"]

    assert [(line["qty"], line["unit_price"], line["line_total"]) for line in priced["items"]] == [
        (3, "12.50", "37.50"),
        (2, "10.00", "20.00"),
    ]


def test_transform_is_deterministic_and_leaves_its_input_alone(transform: ModuleType) -> None:
    batch = [
        order(order_id=f"o-{n}", currency=currency) for n, currency in enumerate(["USD", "GBP", "XYZ", "JPY"])
    ]
    before = copy.deepcopy(batch)

    first, second = run(transform, *batch), run(transform, *batch)

    assert first == second
    assert batch == before
    assert [valid["order_id"] for valid in first["valid"]] == ["o-0", "o-1", "o-3"]


def test_packaged_handler_runs_every_saved_event(invoke: Invoke) -> None:
    events = load_test_events(FUNCTIONS_DIR / "order_transform")

    results = dict(zip(events, invoke("order_transform", list(events.values())).results, strict=True))

    assert [valid["order_id"] for valid in results["valid-batch"]["valid"]] == ["o-1001", "o-1002"]
    assert len(results["invalid-orders"]["rejects"]) == len(events["invalid-orders"]["orders"])
    assert results["high-total-anomaly"]["valid"][0]["anomalies"] == ["high_total"]
    assert results["empty-batch"] == {"valid": [], "rejects": []}
    assert results["map-batch-items"]["valid"][0]["order_total_usd"] == "24.12"


def test_packaged_handler_reads_settings_and_refuses_unknown_events(invoke: Invoke) -> None:
    items = [{"sku": "A", "qty": 1, "unit_price": "60.00"}, {"sku": "B", "qty": 1, "unit_price": "1.00"}]

    run = invoke(
        "order_transform",
        [{"orders": [order(items=items)]}, {"records": []}],
        env={"ORDER_ANOMALY_THRESHOLD_USD": "50", "ORDER_MAX_ITEMS": "1"},
    )

    assert run.outcomes[0]["result"]["rejects"][0]["reason"] == "too_many_items"
    assert run.outcomes[1]["error"]["errorType"] == "ValueError"
    assert '{"orders": [...]}' in run.outcomes[1]["error"]["errorMessage"]


def test_packaged_handler_flags_anomalies_from_the_configured_threshold(invoke: Invoke) -> None:
    run = invoke("order_transform", [{"orders": [order()]}], env={"ORDER_ANOMALY_THRESHOLD_USD": "40"})

    assert run.results[0]["valid"][0]["anomalies"] == ["high_total"]


def test_largest_useful_batch_fits_the_configured_memory_and_response_limit(invoke: Invoke) -> None:
    orders = [
        order(order_id=f"o-{n}", items=[{"sku": f"S{i}", "qty": 1, "unit_price": "9.99"} for i in range(5)])
        for n in range(6000)
    ]
    payload = json.dumps({"orders": orders})
    assert 2_000_000 < len(payload) < 2_600_000

    run = invoke("order_transform", [{"orders": orders}])

    assert len(json.dumps(run.results[0])) < 6 * 1024 * 1024
    assert run.peak_rss_mb < load_manifest(FUNCTIONS_DIR / "order_transform").memory
