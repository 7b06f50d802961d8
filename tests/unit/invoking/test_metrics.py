"""Invocation metrics from Lambda's REPORT lines, and their cost from the declared prices."""

from __future__ import annotations

import pytest

from lambdapipe.invoking.metrics import LambdaPricing, parse_report

COLD_TAIL = (
    "START RequestId: 6f1c Version: $LATEST\n"
    "END RequestId: 6f1c\n"
    "REPORT RequestId: 6f1c\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 71 MB\tInit Duration: 245.87 ms\t\n"
)


WARM_TAIL = (
    "START RequestId: 7a2d Version: 3\n"
    "END RequestId: 7a2d\n"
    "REPORT RequestId: 7a2d\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 512 MB\t"
    "Max Memory Used: 72 MB\t\n"
)


def test_report_lines_parse_into_duration_billing_memory_and_init_on_cold_start_only() -> None:
    cold, warm = parse_report(COLD_TAIL), parse_report(WARM_TAIL)

    assert (cold.duration_ms, cold.billed_duration_ms, cold.memory_size_mb, cold.max_memory_used_mb) == (
        102.25,
        103,
        512,
        71,
    )
    assert (cold.init_duration_ms, cold.cold_start) == (245.87, True)
    assert (warm.billed_duration_ms, warm.max_memory_used_mb, warm.init_duration_ms) == (4, 72, None)
    assert warm.cold_start is False
    assert parse_report("START RequestId: 1\nEND RequestId: 1\n") is None
    assert parse_report(None) is None


def test_cost_is_gb_seconds_times_the_architecture_price_plus_the_request_price() -> None:
    pricing = LambdaPricing()

    # 1 s at 1024 MB is one GB-second; 103 ms at 512 MB is 0.0515 GB-seconds.
    assert pricing.cost(1000, 1024) == pytest.approx(0.0000166667 + 0.0000002)
    assert pricing.cost(1000, 1024, "arm64") == pytest.approx(0.0000133334 + 0.0000002)
    assert pricing.cost(103, 512) == pytest.approx(0.0515 * 0.0000166667 + 0.0000002)


def test_price_overrides_come_from_the_lambdapipe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__PRICE_GB_SECOND_ARM64", "0.00001")
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__PRICE_PER_REQUEST", "0.000001")

    pricing = LambdaPricing.from_settings()

    assert pricing.gb_second == {"x86_64": 0.0000166667, "arm64": 0.00001}
    assert pricing.cost(2000, 2048, "arm64") == pytest.approx(4 * 0.00001 + 0.000001)
    assert pricing.cost(2000, 2048, "x86_64") == pytest.approx(4 * 0.0000166667 + 0.000001)
