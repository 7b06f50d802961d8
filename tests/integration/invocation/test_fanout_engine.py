"""The fan-out engine against the local stack: it backs off under injected throttles, finishes every item, reports progress."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from lambdapipe.fanout import run_store
from lambdapipe.fanout.batching import make_batches
from lambdapipe.fanout.engine import FanOut, FanOutConfig
from lambdapipe.fanout.results import item_results
from lambdapipe.invoking.invoker import FunctionInfo
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule

DOUBLE = FunctionInfo("double", timeout_s=10, memory_size_mb=128)


def _stored_run(aws: LocalAws, prefix: str, item_count: int) -> run_store.RunLocation:
    """A results bucket holding the input of a fan-out over ``item_count`` items, one per batch."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="results")
    location = run_store.RunLocation("results", prefix)
    items = [{"n": n} for n in range(item_count)]
    run_store.write_input(s3, location, make_batches(items, batch_input_key=None))
    return location


def _config(location: run_store.RunLocation, concurrency: int, **options: Any) -> FanOutConfig:
    """A fan-out of ``double`` over the stored input, first try unless ``options`` say otherwise."""
    return FanOutConfig(
        function=dataclasses.asdict(DOUBLE),
        qualifier=None,
        bucket=location.bucket,
        prefix=location.prefix,
        max_concurrency=concurrency,
        batch_input_key=None,
        **{"try_number": 1, **options},
    )


@contextlib.asynccontextmanager
async def _clients(aws_connection: str, concurrency: int) -> AsyncIterator[tuple[Any, Any]]:
    """The operators' async Lambda and S3 clients."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from lambdapipe.hooks.lambda_function import LambdaHook

    async with (
        await LambdaHook(aws_conn_id=aws_connection).async_invoke_client(
            DOUBLE, concurrency
        ) as lambda_client,
        await AwsBaseHook(aws_conn_id=aws_connection, client_type="s3").get_async_conn() as s3_client,
    ):
        yield lambda_client, s3_client


def _fan_out(
    aws_connection: str,
    location: run_store.RunLocation,
    concurrency: int,
    report: Callable[[str], None],
    **options: Any,
) -> tuple[FanOut, dict[str, Any]]:
    """Run the engine over the stored input with the operators' async clients; (engine, summary)."""
    config = _config(location, concurrency, **{"max_attempts": 1, **options})

    async def run() -> tuple[FanOut, dict[str, Any]]:
        async with _clients(aws_connection, concurrency) as (lambda_client, s3_client):
            engine = FanOut(config, lambda_client, s3_client, report=report)
            return engine, await engine.run()

    return asyncio.run(run())


def test_under_injected_throttling_the_engine_backs_off_climbs_back_and_finishes_every_item(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, "engine/throttled", 200)
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="double", error="lambda_throttle", count=40
        )
    )

    engine, summary = _fan_out(aws_connection, location, 16, report=lambda line: None)
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
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, "engine/rerun", 4)
    lines: list[str] = []

    _, first = _fan_out(aws_connection, location, 2, report=lines.append)
    _, rerun = _fan_out(aws_connection, location, 2, report=lines.append)  # nothing left to invoke

    assert (first["succeeded_items"], rerun["status"]) == (4, "succeeded")
    assert lines[-1].startswith("double: finished 4/4 items"), lines
    assert not [line for line in lines if "inf" in line], lines


def _records(aws: LocalAws, location: run_store.RunLocation, kind: str) -> list[dict[str, Any]]:
    """Every record of every ``kind`` part ("results" or "metrics") in S3, in part order."""
    s3 = aws.client("s3")
    listing = s3.list_objects_v2(Bucket=location.bucket, Prefix=f"{location.prefix}/{kind}/")
    return [
        record
        for obj in listing.get("Contents", [])
        for record in run_store.decode_lines(
            s3.get_object(Bucket=location.bucket, Key=obj["Key"])["Body"].read()
        )
    ]


def test_a_second_run_of_the_same_try_a_restarted_trigger_keeps_every_result_and_metric_of_the_first(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, "engine/restarted", 60)
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="double", error="lambda_unhandled", count=30
        )
    )

    tolerate_all = {"tolerated_failure_percentage": 100}
    _, first = _fan_out(aws_connection, location, 2, lambda line: None, **tolerate_all)
    _, restarted = _fan_out(aws_connection, location, 2, lambda line: None, **tolerate_all)  # same try
    results = item_results(aws.client("s3"), restarted)

    assert (first["failed_items"], restarted["resumed_items"], restarted["status"]) == (30, 30, "succeeded")
    assert [line["index"] for line in results] == list(range(60))
    assert {line["status"] for line in results} == {"succeeded"}
    assert [line["result"] for line in results] == [{"double": 2 * n} for n in range(60)]
    assert len(_records(aws, location, "metrics")) == aws.calls.snapshot()["lambda:Invoke:double"] == 90


_RUN_FAN_OUT = """
import asyncio, json, sys
from lambdapipe.fanout.engine import FanOutConfig, run_fan_out
asyncio.run(run_fan_out(FanOutConfig(**json.loads(sys.argv[1])), {"aws_conn_id": "aws_default"}))
"""


def test_a_worker_killed_mid_fan_out_re_invokes_on_retry_at_most_the_batches_it_had_in_flight(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, "engine/killed", 200)
    aws.faults.add(FaultRule(service="lambda", operation="Invoke", function_name="double", latency_ms=100))
    config = _config(location, 4)
    worker = subprocess.Popen(
        [sys.executable, "-c", _RUN_FAN_OUT, json.dumps(config.to_dict())],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        while aws.calls.snapshot()["lambda:Invoke:double"] < 60 and worker.poll() is None:
            time.sleep(0.05)
    finally:
        worker.kill()  # SIGKILL: nothing buffered in the worker survives
        worker.wait()
    assert worker.returncode == -signal.SIGKILL, "the fan-out ended before it could be killed"
    time.sleep(0.5)  # the invocations in flight at the kill reach the server and finish

    _, retry = _fan_out(aws_connection, location, 4, lambda line: None, try_number=2)
    invocations = aws.calls.snapshot()["lambda:Invoke:double"]

    assert (retry["status"], retry["succeeded_items"]) == ("succeeded", 200)
    assert invocations - 200 <= config.max_concurrency, f"{invocations - 200} batches ran twice"


def test_a_batch_that_failed_in_one_try_and_succeeded_in_the_next_is_not_invoked_by_a_third(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, "engine/third-try", 10)
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="double", error="lambda_unhandled", count=4
        )
    )
    tolerate_all = {"tolerated_failure_percentage": 100}

    for try_number in (1, 2):
        _fan_out(aws_connection, location, 1, lambda line: None, try_number=try_number, **tolerate_all)
    invocations = aws.calls.snapshot()["lambda:Invoke:double"]
    _, third = _fan_out(aws_connection, location, 1, lambda line: None, try_number=3, **tolerate_all)

    assert (third["resumed_items"], third["invocations"]) == (10, 0)
    assert aws.calls.snapshot()["lambda:Invoke:double"] == invocations


@pytest.mark.parametrize("results_put", ["in flight", "landed, answer lost"])
def test_a_fan_out_cancelled_after_its_metrics_part_landed_writes_each_result_and_metric_once(
    aws: LocalAws,
    aws_connection: str,
    make_function: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    results_put: str,
) -> None:
    """A trigger cancelled (the triggerer stopping) while a batch's results PUT is in flight, or has
    landed with its answer not yet back, and its metrics PUT has landed: the last write before the
    engine stops must neither write those metrics into a second part (the Lambda view and the cost
    summary would count them twice) nor lose or repeat the result line."""
    make_function("double", "double", Timeout=10)
    location = _stored_run(aws, f"engine/cancelled-{results_put.replace(' ', '-')}", 1)
    real_write_part = run_store.write_part
    results_held = True

    async def results_held_by_the_cancel(client: Any, where: Any, kind: str, *args: Any) -> int:
        if kind != "results" or not results_held:
            return await real_write_part(client, where, kind, *args)
        if results_put == "landed, answer lost":
            await real_write_part(client, where, kind, *args)
        await asyncio.sleep(3600)  # cancelled here
        raise AssertionError("not cancelled")

    monkeypatch.setattr(run_store, "write_part", results_held_by_the_cancel)

    async def cancel_once_metrics_landed() -> None:
        nonlocal results_held
        async with _clients(aws_connection, 1) as (lambda_client, s3_client):
            engine = FanOut(_config(location, 1), lambda_client, s3_client, report=print)
            fan_out = asyncio.create_task(engine.run())
            deadline = time.monotonic() + 60
            while not _records(aws, location, "metrics"):
                assert time.monotonic() < deadline, "the metrics part never landed"
                await asyncio.sleep(0.05)
            results_held = False
            fan_out.cancel()
            with pytest.raises(asyncio.CancelledError):
                await fan_out

    asyncio.run(cancel_once_metrics_landed())

    assert aws.calls.snapshot()["lambda:Invoke:double"] == 1
    assert len(_records(aws, location, "metrics")) == 1, "the invocation's metrics were written twice"
    assert [line["index"] for line in _records(aws, location, "results")] == [0]
