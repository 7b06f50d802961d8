"""GetMetricStatistics as CloudWatch answers it, where moto 5.2.5 differs:

- ``ExtendedStatistics`` (``p95``, ``p99.9``): moto accepts and ignores them, so a canary's p95
  Duration check would always see no data;
- dimensions match exactly: moto counts a datum whose dimensions include the ones asked for, so
  ``FunctionName`` alone would add up Lambda's per-alias and per-version copies too.

Percentiles are nearest-rank over the raw values in the period: those put one by one, and those the
local Lambda runtime keeps on its per-minute Duration datum (``lambda_runtime.metrics``).
"""

from __future__ import annotations

import math
import re
from typing import Any

_PERCENTILE = re.compile(r"p(\d{1,2}(\.\d+)?|100)")


def install() -> None:
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    CloudWatchResponse.get_metric_statistics = _with_percentiles(CloudWatchResponse.get_metric_statistics)
    CloudWatchBackend.get_metric_statistics = _exact_dimensions(CloudWatchBackend.get_metric_statistics)


def percentile(values: list[float], rank: float) -> float:
    """The nearest-rank percentile: the smallest value with ``rank`` percent of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


def _exact_dimensions(original: Any) -> Any:
    def get_metric_statistics(self: Any, *args: Any, dimensions: list[dict[str, str]], **kwargs: Any) -> Any:
        asked = {(item["Name"], item.get("Value")) for item in dimensions or []}
        datapoints = []
        for datapoint in original(self, *args, dimensions=dimensions, **kwargs):
            datapoint.metric_data = [
                datum
                for datum in datapoint.metric_data
                if {(d.name, d.value) for d in datum.dimensions} == asked
            ]
            if datapoint.metric_data:
                datapoints.append(datapoint)
        return datapoints

    return get_metric_statistics


def _with_percentiles(original: Any) -> Any:
    def get_metric_statistics(self: Any) -> Any:
        result = original(self)
        wanted = [name for name in self._get_param("ExtendedStatistics") or [] if _PERCENTILE.fullmatch(name)]
        if not wanted:
            return result
        for datapoint in result.result["Datapoints"]:
            values = [value for datum in datapoint.metric_data for value in _raw_values(datum)]
            if values:
                datapoint.extended_statistics = {name: percentile(values, float(name[1:])) for name in wanted}
        return result

    return get_metric_statistics


def _raw_values(datum: Any) -> list[float]:
    """A datum put as one value, or the local runtime's per-minute Duration datum; others have none."""
    if hasattr(datum, "values"):
        return datum.values
    return [datum.value] if hasattr(datum, "value") else []
