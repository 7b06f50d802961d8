"""The invoker's retry policy and client settings, with no server answering."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest
from botocore.config import Config

from lambdapipe.invoking.invoker import (
    READ_TIMEOUT_MARGIN_S,
    FunctionInfo,
    InvocationError,
    Invoker,
    ThrottlePolicy,
    invoke_client_config,
)
from tests.support.async_clients import ECHO, async_lambda_client


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
