"""Each invocation's ``AWS/Lambda`` metrics in the local CloudWatch, as Lambda publishes them:
``Invocations``, ``Errors`` and ``Duration`` per function, per qualifier (``Resource``) and, for an
alias, per executed version (``ExecutedVersion``), which is what a canary's health check reads.

Stored as one aggregated datum per minute, metric and dimension set (moto keeps one object per
datum put, which a busy function would grow without bound); Duration's datum also keeps the raw
values so ``ExtendedStatistics`` percentiles (``cloudwatch_statistics``) are exact. Memory stays
bounded in a stack that runs for days: raw values are kept for ``RAW_VALUES_KEPT`` (older minutes
keep their count, sum, min and max; a percentile covers only the recent values), and minutes older
than CloudWatch's 15 days for one-minute data are dropped.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec

NAMESPACE = "AWS/Lambda"
BUCKETS = "_lambdapipe_lambda_metric_buckets"  # on the backend, so a stack reset drops them with it
FORGOTTEN_UP_TO = "_lambdapipe_lambda_metric_minute_forgotten"  # the minute the last clean-up ran at
RAW_VALUES_KEPT = timedelta(hours=3)
MINUTES_KEPT = timedelta(days=15)
_lock = threading.Lock()


def record_invocation(spec: FunctionSpec, invoked_arn: str, failed: bool, duration_ms: float) -> None:
    """Count one invocation that ran (throttled ones never reach here, as on AWS)."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.utils import utcnow

    backend = cloudwatch_backends[spec.account_id][spec.region]
    minute = utcnow().replace(second=0, microsecond=0)
    samples = (
        ("Invocations", 1.0, "Count"),
        ("Errors", float(failed), "Count"),
        ("Duration", duration_ms, "Milliseconds"),
    )
    with _lock:
        for dimensions in dimension_sets(spec, invoked_arn):
            for name, value, unit in samples:
                _add(backend, minute, name, unit, dimensions, value)


def dimension_sets(spec: FunctionSpec, invoked_arn: str) -> list[list[dict[str, str]]]:
    """The function alone; with the qualifier it was invoked by; for an alias, with the version run."""
    function = [{"Name": "FunctionName", "Value": spec.function_name}]
    parts = invoked_arn.split(":")
    if len(parts) < 8:
        return [function]
    qualifier = parts[7]
    resource = [*function, {"Name": "Resource", "Value": f"{spec.function_name}:{qualifier}"}]
    if qualifier == "$LATEST" or qualifier.isdigit():
        return [function, resource]
    return [function, resource, [*resource, {"Name": "ExecutedVersion", "Value": spec.version}]]


def _add(
    backend: Any, minute: datetime, name: str, unit: str, dimensions: list[dict[str, str]], value: float
) -> None:
    from moto.cloudwatch.models import MetricAggregatedDatum

    buckets = backend.__dict__.setdefault(BUCKETS, {})
    key = (minute, name, tuple((item["Name"], item["Value"]) for item in dimensions))
    datum = buckets.get(key)
    if datum is None:
        _forget_old_minutes(backend, buckets, minute)
        datum = MetricAggregatedDatum(NAMESPACE, name, value, value, 0, 0.0, dimensions, minute, unit)
        datum.values = []
        backend.metric_data.append(datum)
        buckets[key] = datum
    datum.min, datum.max = min(datum.min, value), max(datum.max, value)
    datum.sample_count += 1
    datum.sum += value
    if name == "Duration":
        datum.values.append(value)


def _forget_old_minutes(backend: Any, buckets: dict[tuple[Any, ...], Any], now: datetime) -> None:
    """Free the raw values of minutes older than ``RAW_VALUES_KEPT``, drop minutes older than
    ``MINUTES_KEPT``. Runs once per minute, when its first datum arrives."""
    if backend.__dict__.get(FORGOTTEN_UP_TO) == now:
        return
    backend.__dict__[FORGOTTEN_UP_TO] = now
    dropped = set()
    for key, datum in list(buckets.items()):
        if key[0] < now - MINUTES_KEPT:
            dropped.add(id(buckets.pop(key)))
        elif key[0] < now - RAW_VALUES_KEPT and datum.values:
            datum.values = []
    if dropped:
        backend.metric_data = [datum for datum in backend.metric_data if id(datum) not in dropped]
