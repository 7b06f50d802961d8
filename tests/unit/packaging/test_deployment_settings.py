"""``deployment`` in function.toml: SAM's names become steps, custom steps are checked, and every
mistake names the field under ``deployment``."""

from __future__ import annotations

from typing import Any

import pytest

from lambdapipe.packaging import ManifestError
from lambdapipe.packaging.deployment_settings import DeploymentSettings, TrafficStep
from lambdapipe.packaging.manifest import manifest_from_table


def manifest(deployment: Any) -> DeploymentSettings:
    table = {"runtime": "python3.11", "handler": "app.handler", "deployment": deployment}
    return manifest_from_table(table, "orders").deployment


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("AllAtOnce", ()),
        ("Canary10Percent5Minutes", (TrafficStep(10, 300),)),
        ("Canary10Percent30Minutes", (TrafficStep(10, 1800),)),
        ("Linear10PercentEvery1Minute", tuple(TrafficStep(share, 60) for share in range(10, 100, 10))),
        ("Linear25PercentEvery3Minutes", (TrafficStep(25, 180), TrafficStep(50, 180), TrafficStep(75, 180))),
    ],
)
def test_sam_deployment_preference_names_become_their_steps(
    name: str, steps: tuple[TrafficStep, ...]
) -> None:
    assert manifest(name).steps == steps


def test_no_deployment_moves_the_alias_all_at_once_with_a_five_percent_error_budget() -> None:
    settings = manifest_from_table({"runtime": "python3.11", "handler": "app.handler"}, "orders").deployment
    assert (settings.gradual, settings.max_error_rate, settings.describe_plan()) == (False, 0.05, "AllAtOnce")


def test_a_table_takes_custom_steps_thresholds_alarms_and_hooks() -> None:
    settings = manifest(
        {
            "steps": [{"percent": 5, "minutes": 2}, {"percent": 50, "seconds": 30}],
            "max_error_rate": 0.01,
            "max_p95_duration_ms": 800,
            "alarms": ["orders-5xx"],
            "pre_traffic_hook": "orders_smoke:live",
        }
    )
    assert settings.steps == (TrafficStep(5, 120), TrafficStep(50, 30))
    assert settings.describe_plan() == "custom (5% for 2m, 50% for 30s, then 100%)"
    assert (settings.max_p95_duration_ms, settings.alarms, settings.pre_traffic_hook) == (
        800,
        ("orders-5xx",),
        "orders_smoke:live",
    )


@pytest.mark.parametrize(
    ("deployment", "field", "problem"),
    [
        ("Canary10Percent", "deployment.type", "must be AllAtOnce, CanaryXPercentYMinutes"),
        ("Canary0Percent5Minutes", "deployment.type", "the percentage must be 1-99"),
        (
            {"type": "AllAtOnce", "steps": [{"percent": 5, "seconds": 5}]},
            "deployment.steps",
            "either type or steps",
        ),
        ({"steps": [{"percent": 100, "seconds": 5}]}, "deployment.steps[0].percent", "below 100"),
        ({"steps": [{"percent": 10}]}, "deployment.steps[0]", "either minutes or seconds"),
        ({"steps": [{"percent": 10, "minutes": 1, "seconds": 5}]}, "deployment.steps[0]", "either minutes"),
        ({"steps": [{"percent": 10, "hours": 1}]}, "deployment.steps[0].hours", "unknown field"),
        ({"steps": [{"percent": 10, "seconds": 0}]}, "deployment.steps[0]", "between 1 second and 24 hours"),
        (
            {"steps": [{"percent": 50, "seconds": 5}, {"percent": 20, "seconds": 5}]},
            "deployment.steps",
            "must rise",
        ),
        (
            "Linear1PercentEvery1440Minutes",
            "deployment.steps",
            "add up to 99 days, above the 14 days CloudWatch keeps one-minute metrics for",
        ),
        ("Canary10Percent1441Minutes", "deployment.type", "the wait 1-1440 minutes"),
        ({"max_error_rate": 5}, "deployment.max_error_rate", "below 1"),
        ({"max_p95_duration_ms": 0}, "deployment.max_p95_duration_ms", "above 0"),
        ({"min_invocations": -1}, "deployment.min_invocations", "0 or more"),
        ({"alarms": "orders-5xx"}, "deployment.alarms", "a list of strings"),
        ({"pre_traffic_hook": "no spaces"}, "deployment.pre_traffic_hook", "a function name"),
        ({"canary": 10}, "deployment.canary", "unknown field"),
        (10, "deployment", 'a type name like "Canary10Percent5Minutes" or a table'),
    ],
)
def test_a_bad_deployment_names_the_field_and_the_problem(deployment: Any, field: str, problem: str) -> None:
    with pytest.raises(ManifestError) as raised:
        manifest(deployment)
    assert raised.value.field == field
    assert problem in raised.value.problem
