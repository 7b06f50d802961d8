"""Async Lambda clients look their connection up off the event loop, as the provider's get_async_conn does.

In the triggerer a connection lookup is a round trip through the event loop. On Python 3.11 the
hooks' ``cached_property`` lock is shared by every hook instance: a lookup on the loop thread that
waits for that lock while another trigger's threaded lookup holds it (and waits for the loop)
deadlocks the triggerer. The chaos run found it: two deferred fan-outs starting together.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking.invoker import FunctionInfo


def test_the_invoke_client_reads_the_connection_on_a_worker_thread_not_the_event_loop(
    aws_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    original = AwsGenericHook.conn_config.func

    def recording_conn_config(hook: AwsGenericHook) -> object:
        lookups.append(threading.current_thread().name)
        return original(hook)

    monkeypatch.setattr(AwsGenericHook, "conn_config", property(recording_conn_config))

    async def open_client() -> None:
        hook = LambdaHook(aws_conn_id=aws_connection)
        async with await hook.async_invoke_client(
            FunctionInfo("fn", timeout_s=3, memory_size_mb=128)
        ) as client:
            assert client.meta.region_name == "us-east-1"

    asyncio.run(open_client())

    assert lookups, "the connection was never read"
    assert threading.main_thread().name not in lookups, lookups
