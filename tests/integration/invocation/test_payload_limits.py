"""Payloads above Lambda's limits: refused before sending, or sent through S3 as a claim check."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from airflow.sdk import DAG

from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, s3_keys, task_log, xcom

# Rendered at run time (7,000,000 bytes of padding), so the DAG itself stays small.
LARGE_PAYLOAD = '{"id": 42, "pad": "{{ "x" * 7000000 }}"}'
LARGE_BODY = ('{"id": 42, "pad": "' + "x" * 7_000_000 + '"}').encode()
OFFLOAD_BUCKET = "claims"


def test_a_sync_payload_above_6_mb_fails_before_sending_naming_the_limit(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("reader", "read_claim")
    with DAG(dag_id="invoke_too_large", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="reader", payload=LARGE_PAYLOAD)

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "failed"}
    assert (
        f"PayloadError: reader: the RequestResponse payload is {len(LARGE_BODY):,} bytes, above Lambda's "
        "6,291,456-byte limit; pass offload_bucket to send it through S3 as a claim check"
    ) in task_log(capsys)
    assert aws.calls.snapshot()["lambda:Invoke:reader"] == 0


def test_an_event_payload_above_1_mb_fails_before_sending_naming_the_async_limit(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("echo", "echo")
    with DAG(dag_id="invoke_event_too_large", schedule=None) as dag:
        LambdaInvokeOperator(
            task_id="invoke",
            function_name="echo",
            invocation_type="Event",
            payload='{"pad": "{{ "x" * 1100000 }}"}',
        )

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "failed"}
    assert "the Event payload is 1,100,011 bytes, above Lambda's 1,048,576-byte limit" in task_log(capsys)
    assert aws.calls.snapshot()["lambda:Invoke:echo"] == 0


def test_with_an_offload_bucket_the_function_gets_a_claim_check_and_reads_the_data_from_s3(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    aws.client("s3").create_bucket(Bucket=OFFLOAD_BUCKET)
    make_function("reader", "read_claim")
    with DAG(dag_id="invoke_offloaded", schedule=None) as dag:
        LambdaInvokeOperator(
            task_id="invoke", function_name="reader", payload=LARGE_PAYLOAD, offload_bucket=OFFLOAD_BUCKET
        )

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "success"}
    assert xcom(run, "invoke") == {"size": len(LARGE_BODY), "pad_length": 7_000_000, "id": 42}


def test_the_claim_object_is_content_addressed_so_a_retried_task_reuses_it(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=OFFLOAD_BUCKET)
    make_function("reader", "read_claim")
    # The first try's invocation fails (as if the function crashed); the retry offloads again.
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="reader", error="lambda_unhandled", count=1
        )
    )
    with DAG(dag_id="invoke_offloaded_retried", schedule=None) as dag:
        LambdaInvokeOperator(
            task_id="invoke",
            function_name="reader",
            payload=LARGE_PAYLOAD,
            offload_bucket=OFFLOAD_BUCKET,
            retries=1,
            retry_delay=timedelta(0),
        )

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "success"}
    assert aws.calls.snapshot()["lambda:Invoke:reader"] == 2
    [key] = s3_keys(s3, OFFLOAD_BUCKET)
    assert key == (
        f"lambdapipe/claims/invoke_offloaded_retried/{run.run_id}/invoke/"
        f"{hashlib.sha256(LARGE_BODY).hexdigest()}.json"
    )
