"""A new version's health while an alias shifts traffic to it, as CloudWatch records it.

Lambda publishes ``Invocations``, ``Errors`` and ``Duration`` per alias and executed version
(dimensions ``FunctionName``, ``Resource = name:alias``, ``ExecutedVersion``), so the figures count
only the traffic the alias sent to the new version: not smoke tests, not direct version invokes.
AWS publishes them about a minute late; a step shorter than that is judged on what has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lambdapipe.deploy.errors import DeployError
from lambdapipe.packaging.deployment_settings import DeploymentSettings

NAMESPACE = "AWS/Lambda"
P95 = "p95"


@dataclass(frozen=True)
class VersionHealth:
    """What the new version did through the alias since the shift began, and the alarms firing now."""

    invocations: int
    errors: int
    p95_duration_ms: float | None
    alarms_firing: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0

    def summary(self) -> str:
        """``2 errors in 40 invocations, p95 12 ms``."""
        p95 = "no durations" if self.p95_duration_ms is None else f"p95 {self.p95_duration_ms:.0f} ms"
        return f"{self.errors} errors in {self.invocations} invocations, {p95}"

    def breaches(self, settings: DeploymentSettings) -> list[str]:
        """Each threshold this health crosses, naming the figure and the limit; empty when healthy."""
        found = []
        if self.invocations < settings.min_invocations:
            found.append(
                f"only {self.invocations} invocations, below min_invocations {settings.min_invocations}"
            )
        if self.invocations and self.error_rate > settings.max_error_rate:
            found.append(
                f"error rate {self.error_rate:.1%} ({self.errors} of {self.invocations} invocations) "
                f"above max_error_rate {settings.max_error_rate:.1%}"
            )
        limit = settings.max_p95_duration_ms
        if limit is not None and self.p95_duration_ms is not None and self.p95_duration_ms > limit:
            found.append(f"p95 duration {self.p95_duration_ms:.0f} ms above max_p95_duration_ms {limit:g}")
        found.extend(f"CloudWatch alarm {name} is in ALARM" for name in self.alarms_firing)
        return found


def measure(
    cloudwatch: Any, function_name: str, alias: str, version: str, since: datetime, alarms: tuple[str, ...]
) -> VersionHealth:
    """Sum Invocations and Errors, take the p95 Duration, of ``version`` through ``alias`` since ``since``."""
    start = since.astimezone(UTC).replace(second=0, microsecond=0)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    query = {
        "Namespace": NAMESPACE,
        "Dimensions": [
            {"Name": "FunctionName", "Value": function_name},
            {"Name": "Resource", "Value": f"{function_name}:{alias}"},
            {"Name": "ExecutedVersion", "Value": version},
        ],
        "StartTime": start,
        "EndTime": end,
        "Period": int((end - start).total_seconds()),  # one datapoint for the whole shift
    }
    invocations = _sum(
        cloudwatch.get_metric_statistics(MetricName="Invocations", Statistics=["Sum"], **query)
    )
    errors = _sum(cloudwatch.get_metric_statistics(MetricName="Errors", Statistics=["Sum"], **query))
    durations = cloudwatch.get_metric_statistics(MetricName="Duration", ExtendedStatistics=[P95], **query)
    p95s = [
        point["ExtendedStatistics"][P95]
        for point in durations["Datapoints"]
        if P95 in point.get("ExtendedStatistics", {})
    ]
    return VersionHealth(
        int(invocations), int(errors), max(p95s) if p95s else None, firing_alarms(cloudwatch, alarms)
    )


def firing_alarms(cloudwatch: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``names`` in ALARM; a name CloudWatch does not know is an error, not a pass."""
    if not names:
        return ()
    found = cloudwatch.describe_alarms(AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    missing = sorted(set(names) - {alarm["AlarmName"] for alarm in alarms})
    if missing:
        raise DeployError(
            f"deployment.alarms names CloudWatch alarms that do not exist: {', '.join(missing)}"
        )
    return tuple(sorted(alarm["AlarmName"] for alarm in alarms if alarm["StateValue"] == "ALARM"))


def _sum(response: dict[str, Any]) -> float:
    return sum(point.get("Sum", 0.0) for point in response["Datapoints"])
