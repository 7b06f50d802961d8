"""The Invoker's retry rules below the operators: what it retries, how long it waits, what it never retries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdapipe.invoking.invoker import (
    Invoker,
)
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.async_clients import ECHO, async_lambda_client


@dataclass
class RecordingPolicy:
    """A throttle policy that remembers what it was asked and never sleeps."""

    max_retries: int = 5
    asked: list[tuple[int, float | None]] = field(default_factory=list)

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        self.asked.append((attempt, retry_after_s))
        return 0.0


def test_each_throttle_retry_is_given_the_retry_after_seconds_lambda_sent(
    aws: LocalAws, make_function: Callable[..., str]
) -> None:
    make_function("echo", "echo")
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="echo", error="lambda_throttle", count=2
        )
    )
    policy = RecordingPolicy()

    async def invoke() -> Any:
        async with async_lambda_client(aws.endpoint_url, ECHO) as client:
            return await Invoker(client, ECHO, throttle_policy=policy).invoke(b'{"n": 1}')

    outcome = asyncio.run(invoke())

    assert outcome.json() == {"received": {"n": 1}}
    assert outcome.throttles == 2
    # The local stack answers 429 with retryAfterSeconds "1", as Lambda does.
    assert policy.asked == [(0, 1.0), (1, 1.0)]
    assert aws.calls.snapshot()["lambda:Invoke:echo"] == 3
