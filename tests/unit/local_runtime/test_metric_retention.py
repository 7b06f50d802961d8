"""The local Lambda's CloudWatch metrics stay bounded in a stack that runs for days: raw Duration
values are kept 3 hours, whole minutes 15 days (CloudWatch's retention for one-minute data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from lambdapipe_local.lambda_runtime import metrics
from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec

ACCOUNT, REGION = "123456789012", "eu-west-3"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SPEC = FunctionSpec(
    function_name="kept",
    function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:kept",
    version="1",
    runtime="python3.11",
    handler="app.handler",
    memory_size=128,
    timeout=3,
    region=REGION,
    account_id=ACCOUNT,
    code_sha256="sha",
    code=b"",
)


@pytest.fixture
def backend() -> Iterator[object]:
    backend = cloudwatch_backends[ACCOUNT][REGION]
    backend.reset()
    yield backend
    backend.reset()


def invoke_at(monkeypatch: pytest.MonkeyPatch, moment: datetime, duration_ms: float) -> None:
    monkeypatch.setattr("moto.core.utils.utcnow", lambda: moment.replace(tzinfo=None))
    metrics.record_invocation(SPEC, SPEC.function_arn, False, duration_ms)


def durations(backend: object) -> dict[datetime, tuple[int, list[float]]]:
    """Each minute's Duration datum (function dimension): (invocations counted, raw values kept)."""
    return {
        datum.timestamp: (datum.sample_count, datum.values)
        for datum in backend.metric_data  # type: ignore[attr-defined]
        if datum.name == "Duration" and len(datum.dimensions) == 1
    }


def test_old_minutes_lose_raw_values_after_3_hours_and_disappear_after_15_days(
    backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ancient, earlier = NOW - timedelta(days=15, hours=1), NOW - timedelta(hours=4)
    invoke_at(monkeypatch, ancient, 10.0)
    invoke_at(monkeypatch, earlier, 20.0)
    invoke_at(monkeypatch, earlier, 30.0)
    assert set(durations(backend)) == {ancient.replace(tzinfo=None), earlier.replace(tzinfo=None)}

    invoke_at(monkeypatch, NOW, 40.0)

    kept = durations(backend)
    assert set(kept) == {earlier.replace(tzinfo=None), NOW.replace(tzinfo=None)}
    assert kept[earlier.replace(tzinfo=None)] == (2, [])  # counted still, values freed
    assert kept[NOW.replace(tzinfo=None)] == (1, [40.0])
    assert len(backend.__dict__[metrics.BUCKETS]) == 6  # 2 minutes x 3 metrics, function dimension only
