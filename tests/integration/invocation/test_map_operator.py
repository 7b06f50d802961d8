"""``LambdaMapOperator`` run by ``dag.test()``: 1,000 items with injected failures under and over the
tolerance, a retry that resumes, the deferrable path, and item batching. Results are read from S3."""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, Context

from lambdapipe.fanout.run_store import RunLocation
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe.triggers.lambda_map import LambdaMapTrigger
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.dag_runs import task_states
from tests.support.dag_test import (
    read_jsonl,
    run_dag,
    task_log,
    triggers_created,
    xcom,
    xcom_by_map_index,
)

RESULTS_BUCKET = "results"
ITEMS = [{"n": n} for n in range(1000)]
# lambda_unhandled on 2% of Invoke calls, drawn from a seeded generator: the number of failures is
# fixed (one draw per call), which items get them depends on the order the calls arrive in.
FAILURE_RATE, FAILURE_SEED = 0.02, 0
_draws = random.Random(FAILURE_SEED)
INJECTED_FAILURES = sum(_draws.random() < FAILURE_RATE for _ in ITEMS)
INJECTED_ERROR = {
    "errorType": "InjectedFault",
    "errorMessage": "Fault injected by lambdapipe (lambda_unhandled)",
}


@pytest.fixture
def doubler(aws: LocalAws, make_function: Callable[..., str]) -> str:
    aws.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
    return make_function("double", "double", Timeout=10)


def inject_failures(aws: LocalAws) -> None:
    aws.faults.add(
        FaultRule(
            service="lambda",
            operation="Invoke",
            function_name="double",
            error="lambda_unhandled",
            rate=FAILURE_RATE,
            seed=FAILURE_SEED,
        )
    )


def map_over_items(**options: Any) -> LambdaMapOperator:
    defaults: dict[str, Any] = {
        "task_id": "map",
        "function_name": "double",
        "items": ITEMS,
        "results_bucket": RESULTS_BUCKET,
        "max_concurrency": 20,
        "max_attempts": 1,
    }
    return LambdaMapOperator(**(defaults | options))


def stored_summary(aws: LocalAws, dag_id: str, run_id: str) -> dict[str, Any]:
    location = RunLocation.for_task(RESULTS_BUCKET, "lambdapipe/map", dag_id, run_id, "map", -1)
    body = aws.client("s3").get_object(Bucket=RESULTS_BUCKET, Key=location.summary_key)["Body"].read()
    return json.loads(body)


def assert_doubled(lines: list[dict[str, Any]]) -> None:
    for line in lines:
        assert line["status"] == "succeeded", line
        assert line["result"] == {"double": 2 * line["index"]}, line


def test_1000_items_with_2_percent_failures_under_the_tolerance_succeed_with_every_result_in_s3(
    aws: LocalAws, aws_connection: str, doubler: str, capsys: pytest.CaptureFixture
) -> None:
    inject_failures(aws)
    with DAG(dag_id="map_under_tolerance", schedule=None) as dag:
        map_over_items(tolerated_failure_percentage=3)

    run = run_dag(dag)
    summary = xcom(run, "map")
    s3 = aws.client("s3")
    results = read_jsonl(s3, summary["results_uri"])
    metrics = read_jsonl(s3, summary["metrics_uri"])
    calls = aws.calls.snapshot()

    assert task_states(run) == {"map": "success"}
    assert 15 <= INJECTED_FAILURES <= 25
    expected = {
        "status": "succeeded",
        "total_items": 1000,
        "total_batches": 1000,
        "tolerated_failures": 30,
        "succeeded_items": 1000 - INJECTED_FAILURES,
        "failed_items": INJECTED_FAILURES,
        "not_started_items": 0,
        "resumed_items": 0,
        "invocations": 1000,
    }
    assert {key: summary[key] for key in expected} == expected
    assert calls["lambda:Invoke:double"] == 1000
    # The tolerance as a count of all items, not a bare number that reads like a failure count.
    assert f"{INJECTED_FAILURES} failed (at most 30 of 1000 may fail)" in task_log(capsys)
    assert calls.faults_injected["lambda:Invoke:double"] == INJECTED_FAILURES
    assert sorted(line["index"] for line in results) == list(range(1000))
    failed = [line for line in results if line["status"] == "failed"]
    assert len(failed) == INJECTED_FAILURES
    assert all(line["error"] == INJECTED_ERROR and line["attempts"] == 1 for line in failed)
    assert_doubled([line for line in results if line["status"] != "failed"])
    assert len(metrics) == 1000
    assert sum(record["status"] == "function_error" for record in metrics) == INJECTED_FAILURES
    assert {(record["dag_id"], record["task_id"]) for record in metrics} == {("map_under_tolerance", "map")}
    assert stored_summary(aws, "map_under_tolerance", run.run_id) == summary
    assert xcom(run, "map", "_link_LambdaFunctionLink") == "/lambdapipe/functions/double"


def test_a_worker_fan_out_keeps_full_collections_off_startup_objects_and_unfreezes_them_after(
    aws: LocalAws, aws_connection: str, doubler: str
) -> None:
    freeze_counts: list[int] = []

    def during_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            freeze_counts.append(gc.get_freeze_count())

    with DAG(dag_id="map_gc_frozen", schedule=None) as dag:
        map_over_items(items=ITEMS[:200])
    gc.callbacks.append(during_collection)
    try:
        run = run_dag(dag)
    finally:
        gc.callbacks.remove(during_collection)

    assert task_states(run) == {"map": "success"}
    assert gc.get_freeze_count() == 0
    # The fan-out's collections ran with the objects the task held before it frozen, never scanned.
    assert max(freeze_counts) > 10_000


def test_failures_over_the_tolerance_fail_the_task_naming_the_counts_and_the_results_location(
    aws: LocalAws, aws_connection: str, doubler: str, capsys: pytest.CaptureFixture
) -> None:
    inject_failures(aws)
    with DAG(dag_id="map_over_tolerance", schedule=None) as dag:
        map_over_items(tolerated_failure_percentage=1)

    run = run_dag(dag)
    summary = stored_summary(aws, "map_over_tolerance", run.run_id)

    assert task_states(run) == {"map": "failed"}
    assert summary["status"] == "failed"
    assert summary["failed_items"] > summary["tolerated_failures"] == 10
    # It stopped starting batches once the tolerance was exceeded.
    assert summary["not_started_items"] > 0
    assert aws.calls.snapshot()["lambda:Invoke:double"] == 1000 - summary["not_started_items"]
    assert (
        f"double: {summary['failed_items']} of 1000 items failed (at most 10 may fail), "
        f"{summary['not_started_items']} not started; per-item errors in {summary['results_uri']}"
    ) in task_log(capsys)


def test_a_retried_map_task_invokes_only_the_items_that_failed_or_never_started(
    aws: LocalAws, aws_connection: str, doubler: str
) -> None:
    invokes_before_retry: list[int] = []

    def fix_the_function(context: Context) -> None:
        invokes_before_retry.append(aws.calls.snapshot()["lambda:Invoke:double"])
        aws.faults.clear()

    inject_failures(aws)
    with DAG(dag_id="map_resumed", schedule=None) as dag:
        map_over_items(
            tolerated_failure_percentage=1,
            retries=1,
            retry_delay=timedelta(0),
            on_retry_callback=fix_the_function,
        )

    run = run_dag(dag)
    summary = xcom(run, "map")
    s3 = aws.client("s3")
    first_try = read_jsonl(s3, summary["results_uri"] + "try-001-")
    second_try = read_jsonl(s3, summary["results_uri"] + "try-002-")
    succeeded_first = {line["index"] for line in first_try if line["status"] == "succeeded"}
    [first_try_invokes] = invokes_before_retry

    assert task_states(run) == {"map": "success"}
    assert first_try_invokes < 1000
    assert sum(line["status"] == "failed" for line in first_try) > 10
    assert sorted(line["index"] for line in second_try) == sorted(set(range(1000)) - succeeded_first)
    assert_doubled(second_try)
    assert aws.calls.snapshot()["lambda:Invoke:double"] - first_try_invokes == 1000 - len(succeeded_first)
    expected = {
        "status": "succeeded",
        "resumed_items": len(succeeded_first),
        "invocations": 1000 - len(succeeded_first),
        "succeeded_items": 1000,
        "failed_items": 0,
    }
    assert {key: summary[key] for key in expected} == expected


def test_a_deferrable_map_runs_the_fan_out_in_the_trigger(
    aws: LocalAws, aws_connection: str, doubler: str
) -> None:
    with DAG(dag_id="map_deferrable", schedule=None) as dag:
        map_over_items(items=ITEMS[:100], max_concurrency=10, deferrable=True)
    triggers_before = triggers_created(LambdaMapTrigger)

    run = run_dag(dag)
    summary = xcom(run, "map")

    assert task_states(run) == {"map": "success"}
    assert triggers_created(LambdaMapTrigger) - triggers_before == 1
    assert (summary["status"], summary["succeeded_items"], summary["invocations"]) == ("succeeded", 100, 100)
    results = read_jsonl(aws.client("s3"), summary["results_uri"])
    assert sorted(line["index"] for line in results) == list(range(100))
    assert_doubled(results)


def test_batching_sends_items_lists_within_the_item_and_byte_limits_and_maps_results_back_per_item(
    aws: LocalAws, aws_connection: str, doubler: str, make_function: Callable[..., str]
) -> None:
    make_function("double_batch", "double_batch")
    # 50 small items (10 fit in 600 bytes), then 50 large ones (only 5 or 6 fit).
    items = [{"n": n, "pad": "x" * (4 if n < 50 else 80)} for n in range(100)]
    with DAG(dag_id="map_batched", schedule=None) as dag:
        map_over_items(
            function_name="double_batch", items=items, max_items_per_batch=10, max_bytes_per_batch=600
        )

    run = run_dag(dag)
    summary = xcom(run, "map")
    results = read_jsonl(aws.client("s3"), summary["results_uri"])
    batch_sizes = {line["batch"]: line["result"]["batch_size"] for line in results}

    assert task_states(run) == {"map": "success"}
    assert sorted(line["index"] for line in results) == list(range(100))
    for line in results:
        assert line["result"]["double"] == 2 * line["index"]
        assert line["result"]["batch_size"] <= 10
        assert line["result"]["batch_bytes"] <= 600
    assert [batch_sizes[batch] for batch in range(5)] == [10] * 5
    assert all(batch_sizes[batch] < 10 for batch in range(6, len(batch_sizes) - 1))
    assert summary["total_batches"] == len(batch_sizes) == aws.calls.snapshot()["lambda:Invoke:double_batch"]
    assert sum(batch_sizes.values()) == 100


def test_each_mapped_task_instance_keeps_its_results_under_its_own_map_index(
    aws: LocalAws, aws_connection: str, doubler: str
) -> None:
    with DAG(dag_id="map_mapped", schedule=None) as dag:
        LambdaMapOperator.partial(
            task_id="map", function_name="double", results_bucket=RESULTS_BUCKET
        ).expand(items=[ITEMS[:3], ITEMS[3:5]])

    run = run_dag(dag)
    summaries = xcom_by_map_index(run, "map")

    assert set(task_states(run).values()) == {"success"}
    assert {index: summary["succeeded_items"] for index, summary in summaries.items()} == {0: 3, 1: 2}
    for index, summary in summaries.items():
        location = RunLocation.for_task(
            RESULTS_BUCKET, "lambdapipe/map", "map_mapped", run.run_id, "map", index
        )
        assert summary["results_uri"] == location.uri(f"{location.prefix}/results/")
        metrics = read_jsonl(aws.client("s3"), summary["metrics_uri"])
        assert {record["map_index"] for record in metrics} == {index}


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"results_bucket": "no-such-results"}, "results_bucket 'no-such-results' does not exist"),
        (
            {"items": None, "items_s3_uri": "s3://no-such-inputs/incoming/"},
            "items_s3_uri's bucket 'no-such-inputs' does not exist",
        ),
    ],
    ids=["results_bucket", "items_s3_uri"],
)
def test_a_missing_bucket_fails_the_task_in_one_line_naming_parameter_and_bucket_before_any_invocation(
    aws: LocalAws,
    aws_connection: str,
    doubler: str,
    capsys: pytest.CaptureFixture,
    options: dict[str, Any],
    says: str,
) -> None:
    with DAG(dag_id=f"map_missing_{'_'.join(sorted(options))}", schedule=None) as dag:
        map_over_items(**options)

    run = run_dag(dag)
    log = task_log(capsys)

    assert task_states(run) == {"map": "failed"}
    assert f"LambdaMapOperator 'map': {says}" in log
    assert "NoSuchBucket" not in log  # no botocore traceback for a setting the user got wrong
    assert aws.calls.snapshot()["lambda:Invoke:double"] == 0
