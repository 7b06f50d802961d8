"""The fan-out engine: its GC freeze, the AIMD limiter on its own, then the engine under injected throttles."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from lambdapipe.fanout import run_store
from lambdapipe.fanout.batching import BatchingError, make_batches
from lambdapipe.fanout.concurrency import AdaptiveLimiter
from lambdapipe.fanout.engine import FanOut, FanOutConfig
from lambdapipe.invoking.invoker import FunctionInfo
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule

FREEZE_PROBE = """
import gc

from lambdapipe.fanout.engine import startup_objects_frozen

gc.freeze()  # as LocalExecutor does before forking its workers
frozen_by_parent = gc.get_freeze_count()
with startup_objects_frozen():
    pass
assert gc.get_freeze_count() >= frozen_by_parent > 0, (gc.get_freeze_count(), frozen_by_parent)
"""


def test_freezing_for_a_fan_out_keeps_what_a_forking_parent_froze_frozen_afterwards() -> None:
    # In a fresh single-threaded process: in a test worker, other threads free frozen objects meanwhile.
    probe = subprocess.run([sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr


def test_the_limiter_admits_no_more_than_its_limit_until_one_is_released() -> None:
    async def scenario() -> tuple[bool, bool]:
        limiter = AdaptiveLimiter(2)
        await limiter.acquire()
        await limiter.acquire()
        third = asyncio.create_task(limiter.acquire())
        for _ in range(5):
            await asyncio.sleep(0)
        blocked = not third.done()
        await limiter.release()
        await third
        return blocked, limiter.peak == 2

    assert asyncio.run(scenario()) == (True, True)


def test_the_limiter_halves_once_per_cooldown_never_below_one_and_climbs_back_additively() -> None:
    async def scenario() -> list[float]:
        limiter = AdaptiveLimiter(8, cooldown_s=3600)
        seen = []
        for _ in range(3):  # one overload: three 429s within the cooldown count once
            await limiter.acquire()
            await limiter.release(throttled=True)
        seen.append(limiter.limit)
        limiter.cooldown_s = 0
        for _ in range(5):
            await limiter.acquire()
            await limiter.release(throttled=True)
        seen.append(limiter.limit)
        await limiter.acquire()
        await limiter.release()
        seen.append(limiter.limit)
        for _ in range(100):
            await limiter.acquire()
            await limiter.release()
        seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [4.0, 1.0, 2.0, 8.0]


def test_batches_respect_max_items_and_max_bytes_and_an_oversized_item_is_refused_by_position() -> None:
    items = [{"n": n, "pad": "x" * 30} for n in range(10)]

    by_count = make_batches(items, max_items=4)
    by_bytes = make_batches(items, max_items=10, max_bytes=120)

    assert [len(batch.items) for batch in by_count] == [4, 4, 2]
    assert [batch.first_item for batch in by_count] == [0, 4, 8]
    assert [len(batch.items) for batch in by_bytes] == [2] * 5
    assert all(len(batch.payload("items")) <= 120 for batch in by_bytes)
    assert [item for batch in by_bytes for item in batch.items] == items
    assert by_count[0].payload(None) == b'{"n":0,"pad":"' + b"x" * 30 + b'"}'
    with pytest.raises(BatchingError, match=r"item 1 is 47 bytes encoded, above the 40-byte batch limit"):
        make_batches([{"n": 0}, {"pad": "x" * 36}], max_items=1, max_bytes=40, batch_input_key=None)


def test_under_injected_throttling_the_engine_backs_off_climbs_back_and_finishes_every_item(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from lambdapipe.hooks.lambda_function import LambdaHook

    make_function("double", "double", Timeout=10)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="results")
    location = run_store.RunLocation("results", "engine/throttled")
    run_store.write_input(s3, location, make_batches([{"n": n} for n in range(200)], batch_input_key=None))
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="double", error="lambda_throttle", count=40
        )
    )
    function = FunctionInfo("double", timeout_s=10, memory_size_mb=128)
    config = FanOutConfig(
        function=dataclasses.asdict(function),
        qualifier=None,
        bucket=location.bucket,
        prefix=location.prefix,
        try_number=1,
        max_concurrency=16,
        batch_input_key=None,
        max_attempts=1,
    )

    async def fan_out() -> tuple[FanOut, dict[str, Any]]:
        async with (
            LambdaHook(aws_conn_id=aws_connection).async_invoke_client(function, 16) as lambda_client,
            await AwsBaseHook(aws_conn_id=aws_connection, client_type="s3").get_async_conn() as s3_client,
        ):
            engine = FanOut(config, lambda_client, s3_client, report=lambda line: None)
            return engine, await engine.run()

    engine, summary = asyncio.run(fan_out())
    limiter = engine.limiter

    assert (summary["status"], summary["succeeded_items"], summary["throttles"]) == ("succeeded", 200, 40)
    assert aws.calls.snapshot()["lambda:Invoke:double"] == 240
    assert limiter.decreases >= 1
    assert limiter.peak <= 16
    lowest = max(1.0, 16 / 2**limiter.decreases)
    assert limiter.limit > lowest


def test_progress_lines_never_print_an_infinite_eta_even_when_a_rerun_resumes_every_item(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from lambdapipe.hooks.lambda_function import LambdaHook

    make_function("double", "double", Timeout=10)
    aws.client("s3").create_bucket(Bucket="results")
    location = run_store.RunLocation("results", "engine/rerun")
    run_store.write_input(
        aws.client("s3"), location, make_batches([{"n": n} for n in range(4)], batch_input_key=None)
    )
    function = FunctionInfo("double", timeout_s=10, memory_size_mb=128)
    config = FanOutConfig(
        function=dataclasses.asdict(function),
        qualifier=None,
        bucket=location.bucket,
        prefix=location.prefix,
        try_number=1,
        max_concurrency=2,
        batch_input_key=None,
        max_attempts=1,
    )
    lines: list[str] = []

    async def fan_out() -> dict[str, Any]:
        async with (
            LambdaHook(aws_conn_id=aws_connection).async_invoke_client(function, 2) as lambda_client,
            await AwsBaseHook(aws_conn_id=aws_connection, client_type="s3").get_async_conn() as s3_client,
        ):
            return await FanOut(config, lambda_client, s3_client, report=lines.append).run()

    first = asyncio.run(fan_out())
    rerun = asyncio.run(fan_out())  # every batch already succeeded: nothing left to invoke

    assert (first["succeeded_items"], rerun["status"]) == (4, "succeeded")
    assert lines[-1].startswith("double: finished 4/4 items"), lines
    assert not [line for line in lines if "inf" in line], lines
