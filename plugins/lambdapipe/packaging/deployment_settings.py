"""``deployment`` in function.toml: how a deploy moves the alias to a new version, and when it gives up.

SAM's preference names, or custom steps::

    deployment = "Canary10Percent5Minutes"   # or Linear10PercentEvery1Minute, AllAtOnce (the default)

    [deployment]                             # the same, with health thresholds and hooks
    type = "Linear10PercentEvery2Minutes"
    # steps = [{ percent = 5, minutes = 2 }, { percent = 50, seconds = 30 }]   # or these, not both
    max_error_rate = 0.05          # the new version's Errors / Invocations through the alias
    max_p95_duration_ms = 800      # the new version's p95 Duration through the alias
    min_invocations = 20           # fewer new-version invocations in the shift fails the check
    alarms = ["orders-api-5xx"]    # CloudWatch alarms: any in ALARM fails the check
    pre_traffic_hook = "smoke-orders"    # invoked before any traffic moves; an error stops the deploy
    post_traffic_hook = "verify-orders"  # invoked at 100%; an error rolls back

Each step sends ``percent`` of the alias's invocations to the new version for its wait, then checks
health; after the last step the alias points at the new version alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from lambdapipe.packaging.errors import ManifestError
from lambdapipe.packaging.manifest_checks import check_type, describe, string_tuple

ALL_AT_ONCE = "AllAtOnce"
_CANARY = re.compile(r"Canary(?P<percent>\d+)Percent(?P<minutes>\d+)Minutes?")
_LINEAR = re.compile(r"Linear(?P<percent>\d+)PercentEvery(?P<minutes>\d+)Minutes?")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?")
MAX_STEP_SECONDS = 24 * 3600
# The health check asks CloudWatch for one datapoint since the shift began: one-minute periods are
# kept 15 days, after which a query must use 5-minute periods (and 1-hour ones after 63 days).
MAX_SHIFT_DAYS = 14
STEP_KEYS = ("percent", "minutes", "seconds")


@dataclass(frozen=True)
class TrafficStep:
    """Send ``percent`` of the alias's invocations to the new version for ``seconds``, then check."""

    percent: float
    seconds: int

    def label(self) -> str:
        wait = f"{self.seconds // 60}m" if self.seconds % 60 == 0 else f"{self.seconds}s"
        return f"{self.percent:g}% for {wait}"


@dataclass(frozen=True)
class DeploymentSettings:
    """How the alias moves: all at once (the default) or through steps with health checks between."""

    type: str | None = None
    steps: tuple[TrafficStep, ...] = ()
    max_error_rate: float = 0.05
    max_p95_duration_ms: float | None = None
    min_invocations: int = 0
    alarms: tuple[str, ...] = ()
    pre_traffic_hook: str | None = None
    post_traffic_hook: str | None = None

    def __post_init__(self) -> None:
        check_type("steps", self.steps, (list, tuple), "an array of { percent, minutes | seconds }")
        steps = tuple(_step(index, step) for index, step in enumerate(self.steps))
        if self.type is not None:
            check_type("type", self.type, str, "a string")
            preset = preset_steps(self.type)
            if steps and steps != preset:
                raise ManifestError("steps", "give either type or steps, not both")
            steps = preset
        object.__setattr__(self, "steps", steps)
        percents = [step.percent for step in self.steps]
        if percents != sorted(set(percents)):
            raise ManifestError("steps", f"percentages must rise from step to step (got {percents})")
        total = timedelta(seconds=sum(step.seconds for step in self.steps))
        if total > timedelta(days=MAX_SHIFT_DAYS):
            raise ManifestError(
                "steps",
                f"add up to {total.days} days, above the {MAX_SHIFT_DAYS} days CloudWatch keeps one-minute "
                "metrics for: fewer or shorter steps",
            )
        check_type("max_error_rate", self.max_error_rate, (int, float), "a fraction, e.g. 0.05")
        if not 0 <= self.max_error_rate < 1:
            raise ManifestError(
                "max_error_rate", f"must be at least 0 and below 1 (got {self.max_error_rate})"
            )
        if self.max_p95_duration_ms is not None:
            check_type("max_p95_duration_ms", self.max_p95_duration_ms, (int, float), "milliseconds")
            if self.max_p95_duration_ms <= 0:
                raise ManifestError(
                    "max_p95_duration_ms", f"must be above 0 (got {self.max_p95_duration_ms})"
                )
        check_type("min_invocations", self.min_invocations, int, "an integer")
        if self.min_invocations < 0:
            raise ManifestError("min_invocations", f"must be 0 or more (got {self.min_invocations})")
        object.__setattr__(self, "alarms", string_tuple("alarms", self.alarms, allow_empty=True))
        for name in ("pre_traffic_hook", "post_traffic_hook"):
            value = getattr(self, name)
            if value is not None:
                check_type(name, value, str, "a function name")
                if not _FUNCTION_NAME.fullmatch(value):
                    raise ManifestError(name, f"must be a function name, optionally :alias (got {value!r})")

    @property
    def gradual(self) -> bool:
        """Whether the alias moves through steps (anything but all at once)."""
        return bool(self.steps)

    def to_table(self) -> dict[str, Any]:
        """These settings as JSON-ready values, e.g. for a trigger to carry; ``from_table`` reads them."""
        table = dataclasses.asdict(self)
        return {**table, "steps": list(table["steps"]), "alarms": list(self.alarms)}

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> DeploymentSettings:
        return cls(**table)

    def describe_plan(self) -> str:
        """``Canary10Percent5Minutes (10% for 5m, then 100%)``: for logs and the alias description."""
        name = self.type or ("custom" if self.steps else ALL_AT_ONCE)
        if not self.steps:
            return name
        return f"{name} ({', '.join(step.label() for step in self.steps)}, then 100%)"


def preset_steps(name: str) -> tuple[TrafficStep, ...]:
    """SAM's ``DeploymentPreference`` types as steps: ``CanaryXPercentYMinutes``,
    ``LinearXPercentEveryYMinute(s)``, ``AllAtOnce``."""
    if name == ALL_AT_ONCE:
        return ()
    if canary := _CANARY.fullmatch(name):
        percent, minutes = int(canary["percent"]), int(canary["minutes"])
        _check_preset(name, percent, minutes)
        return (TrafficStep(percent, minutes * 60),)
    if linear := _LINEAR.fullmatch(name):
        percent, minutes = int(linear["percent"]), int(linear["minutes"])
        _check_preset(name, percent, minutes)
        return tuple(TrafficStep(share, minutes * 60) for share in range(percent, 100, percent))
    raise ManifestError(
        "type",
        f"must be AllAtOnce, CanaryXPercentYMinutes or LinearXPercentEveryYMinutes, "
        f"e.g. Canary10Percent5Minutes (got {name!r})",
    )


def deployment_from_toml(value: Any) -> DeploymentSettings:
    """``deployment = "<type>"`` or a ``[deployment]`` table; errors name ``deployment.<field>``."""
    if isinstance(value, str):
        return _located(lambda: DeploymentSettings(type=value))
    check_type("deployment", value, dict, 'a type name like "Canary10Percent5Minutes" or a table')
    allowed = [item.name for item in fields(DeploymentSettings)]
    for key in value:
        if key not in allowed:
            raise ManifestError(f"deployment.{key}", f"unknown field; expected one of: {', '.join(allowed)}")
    return _located(lambda: DeploymentSettings(**value))


def _located(build: Callable[[], DeploymentSettings]) -> DeploymentSettings:
    try:
        return build()
    except ManifestError as exc:
        raise ManifestError(f"deployment.{exc.field}" if exc.field else "deployment", exc.problem) from None


def _check_preset(name: str, percent: int, minutes: int) -> None:
    if not 1 <= percent <= 99 or not 1 <= minutes <= MAX_STEP_SECONDS // 60:
        raise ManifestError(
            "type", f"{name}: the percentage must be 1-99 and the wait 1-{MAX_STEP_SECONDS // 60} minutes"
        )


def _step(index: int, step: Any) -> TrafficStep:
    name = f"steps[{index}]"
    if isinstance(step, TrafficStep):
        table = {"percent": step.percent, "seconds": step.seconds}
    else:
        check_type(name, step, dict, "a table { percent = 10, minutes = 5 }")
        table = step
    unknown = sorted(set(table) - set(STEP_KEYS))
    if unknown:
        raise ManifestError(f"{name}.{unknown[0]}", f"unknown field; expected one of: {', '.join(STEP_KEYS)}")
    percent = table.get("percent")
    check_type(f"{name}.percent", percent, (int, float), "a number between 0 and 100")
    if not 0 < percent < 100:
        raise ManifestError(f"{name}.percent", f"must be above 0 and below 100 (got {percent})")
    if ("minutes" in table) == ("seconds" in table):
        raise ManifestError(name, "give the wait as either minutes or seconds")
    wait = table.get("minutes", table.get("seconds"))
    check_type(f"{name}.{'minutes' if 'minutes' in table else 'seconds'}", wait, int, "an integer")
    seconds = wait * 60 if "minutes" in table else wait
    if not 1 <= seconds <= MAX_STEP_SECONDS:
        raise ManifestError(name, f"must wait between 1 second and 24 hours (got {describe(wait)})")
    return TrafficStep(percent, seconds)
