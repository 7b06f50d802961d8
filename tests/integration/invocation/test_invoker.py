"""The Invoker's retry rules below the operators: what it retries, how long it waits, what it never retries."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config

from lambdapipe.invoking.invoker import (
    READ_TIMEOUT_MARGIN_S,
    FunctionInfo,
    InvocationError,
    Invoker,
    ThrottlePolicy,
    invoke_client_config,
)
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule

ECHO = FunctionInfo("echo", timeout_s=3, memory_size_mb=128)


@dataclass
class RecordingPolicy:
    """A throttle policy that remembers what it was asked and never sleeps."""

    max_retries: int = 5
    asked: list[tuple[int, float | None]] = field(default_factory=list)

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        self.asked.append((attempt, retry_after_s))
        return 0.0


def async_lambda_client(endpoint_url: str, function: FunctionInfo) -> Any:
    """An aiobotocore Lambda client (an async context manager) configured as the operators configure it."""
    return get_session().create_client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=invoke_client_config(function, None),
    )


def test_the_invoke_client_has_no_botocore_retries_and_a_read_timeout_above_the_functions() -> None:
    base = Config(user_agent_extra="lambdapipe-tests", read_timeout=60)

    config = invoke_client_config(FunctionInfo("etl", timeout_s=900, memory_size_mb=1024), base, 50)

    assert config.read_timeout == 900 + READ_TIMEOUT_MARGIN_S
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.max_pool_connections == 50
    assert config.user_agent_extra == "lambdapipe-tests"


def test_throttle_backoff_is_capped_exponential_full_jitter_never_shorter_than_retry_after() -> None:
    policy = ThrottlePolicy(base_delay_s=0.2, max_delay_s=5.0)
    random.seed(5)

    for attempt in range(10):
        ceiling = min(5.0, 0.2 * 2**attempt)
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # jittered over the whole range, not a fixed step
        assert all(policy.delay(attempt, 3.0) >= 3.0 for _ in range(20))


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


def test_an_endpoint_that_refuses_connections_is_retried_then_reported_as_never_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connection_retries: list[int] = []

    async def invoke() -> None:
        async with async_lambda_client(f"http://127.0.0.1:{closed_port}", ECHO) as client:
            invoker = Invoker(client, ECHO)
            try:
                await invoker.invoke(b"{}")
            finally:
                connection_retries.append(invoker.counters.connection_retries)

    with pytest.raises(
        InvocationError, match=r"echo: cannot connect to Lambda: .*\(never sent, so not run\)"
    ):
        asyncio.run(invoke())
    assert connection_retries == [4]
