"""``LambdaInvokeOperator`` (synchronous) run by ``dag.test()`` against functions on the local stack:
results, errors, timeouts, and which failures are retried (throttling) or never (read timeout)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

import pytest
from airflow.sdk import DAG

import lambdapipe.invoking.invoker
from lambdapipe.operators.lambda_invoke import INVOCATIONS_XCOM_KEY, LambdaInvokeOperator
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, task_log, xcom
from tests.support.local_stack import wait_until


def test_sync_invoke_returns_the_decoded_json_result_for_dict_list_and_json_text_payloads(
    aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("echo", "echo")
    with DAG(dag_id="invoke_payload_kinds", schedule=None) as dag:
        LambdaInvokeOperator(task_id="as_dict", function_name="echo", payload={"order_id": 7})
        LambdaInvokeOperator(task_id="as_list", function_name="echo", payload=[1, "two", None])
        LambdaInvokeOperator(
            task_id="as_json_text", function_name="echo", payload='{"task": "{{ ti.task_id }}"}'
        )

    run = run_dag(dag)

    assert task_states(run) == {"as_dict": "success", "as_list": "success", "as_json_text": "success"}
    assert xcom(run, "as_dict") == {"received": {"order_id": 7}}
    assert xcom(run, "as_list") == {"received": [1, "two", None]}
    assert xcom(run, "as_json_text") == {"received": {"task": "as_json_text"}}


def test_a_string_payload_that_is_not_json_is_refused_before_invoking(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("echo", "echo")
    with DAG(dag_id="invoke_not_json", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="echo", payload="order 7, please")

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "failed"}
    assert "PayloadError: payload is a string but not JSON" in task_log(capsys)
    assert aws.calls.snapshot()["lambda:Invoke:echo"] == 0


def test_the_payload_is_never_logged_only_its_size_and_sha256(
    aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("echo", "echo")
    payload = {"card_number": "4111-SECRET-CARD-0042"}
    body = json.dumps(payload, separators=(",", ":")).encode()
    with DAG(dag_id="invoke_payload_not_logged", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="echo", payload=payload)

    run = run_dag(dag)
    log = task_log(capsys)

    assert task_states(run) == {"invoke": "success"}, log
    assert xcom(run, "invoke") == {"received": payload}
    assert "4111-SECRET-CARD-0042" not in log
    assert f"payload {len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}" in log
    assert re.search(r"Result: \d+ bytes, sha256 [0-9a-f]{16}", log)


def test_the_functions_log_tail_reaches_the_task_log_only_when_asked(
    aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("echo_tail", "echo")
    with DAG(dag_id="invoke_log_tail", schedule=None) as dag:
        LambdaInvokeOperator(task_id="quiet", function_name="echo_tail", payload={"card": "4111"})
        LambdaInvokeOperator(
            task_id="told", function_name="echo_tail", payload={"n": 1}, log_function_output=True
        )

    run = run_dag(dag)
    log = task_log(capsys)

    assert task_states(run) == {"quiet": "success", "told": "success"}
    assert log.count("Function log (last 4 KB):") == 1  # the told task's; the quiet one's went to DEBUG
    assert "START RequestId: " in log


def test_a_handled_error_value_is_the_result_not_a_failure(
    aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("rejecter", "handled_error")
    with DAG(dag_id="invoke_handled_error", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="rejecter", payload={"order_id": 7})

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "success"}
    assert xcom(run, "invoke") == {"errorType": "OrderRejected", "errorMessage": "order 7 rejected"}
    assert xcom(run, "invoke", INVOCATIONS_XCOM_KEY)[0]["status"] == "success"


def test_an_unhandled_error_fails_the_task_with_type_and_message_and_logs_the_stack_trace(
    aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("boom", "unhandled")
    with DAG(dag_id="invoke_unhandled_error", schedule=None) as dag:
        # Without the function's own log tail, the stack trace can only come from the error document.
        LambdaInvokeOperator(
            task_id="invoke", function_name="boom", payload={"order_id": 7}, log_function_output=False
        )

    run = run_dag(dag)
    log = task_log(capsys)
    record = xcom(run, "invoke", INVOCATIONS_XCOM_KEY)[0]

    assert task_states(run) == {"invoke": "failed"}
    assert f"Lambda function boom failed (request {record['request_id']}): ValueError: bad order 7" in log
    assert "Function error ValueError: bad order 7" in log
    assert ", in unhandled\n" in log
    assert """raise ValueError(f"bad order {event['order_id']}")""" in log
    assert (record["status"], record["error_type"]) == ("function_error", "ValueError")


def test_a_function_timeout_fails_the_task_naming_sandbox_timedout(
    aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("slow", "sleep", Timeout=1)
    with DAG(dag_id="invoke_function_timeout", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="slow", payload={"seconds": 3})

    run = run_dag(dag)
    log = task_log(capsys)

    assert task_states(run) == {"invoke": "failed"}
    assert "Lambda function slow failed (request " in log
    assert "Sandbox.Timedout: RequestId: " in log
    assert "Task timed out after 1.00 seconds" in log
    assert xcom(run, "invoke", INVOCATIONS_XCOM_KEY)[0]["status"] == "timeout"


def test_throttled_invokes_are_retried_and_the_function_runs_once(
    aws: LocalAws,
    aws_connection: str,
    make_function: Callable[..., str],
    executions: Callable[[str], int],
    capsys: pytest.CaptureFixture,
) -> None:
    make_function("echo", "echo")
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="echo", error="lambda_throttle", count=3
        )
    )
    with DAG(dag_id="invoke_throttled", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="echo", payload={"order_id": 7})

    run = run_dag(dag)
    calls = aws.calls.snapshot()

    assert task_states(run) == {"invoke": "success"}, task_log(capsys)
    assert xcom(run, "invoke") == {"received": {"order_id": 7}}
    assert calls["lambda:Invoke:echo"] == 4
    assert calls.faults_injected["lambda:Invoke:echo"] == 3
    assert executions("echo") == 1


def test_throttling_beyond_max_throttle_retries_fails_with_throttled_error(
    aws: LocalAws,
    aws_connection: str,
    make_function: Callable[..., str],
    executions: Callable[[str], int],
    capsys: pytest.CaptureFixture,
) -> None:
    make_function("echo", "echo")
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="echo", error="lambda_throttle", count=5
        )
    )
    with DAG(dag_id="invoke_throttled_too_often", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="echo", payload={}, max_throttle_retries=1)

    run = run_dag(dag)

    assert task_states(run) == {"invoke": "failed"}
    assert "ThrottledError: echo: still throttled after 1 retries (ConcurrentInvocationLimitExceeded)" in (
        task_log(capsys)
    )
    assert aws.calls.snapshot()["lambda:Invoke:echo"] == 2
    assert executions("echo") == 0


def test_a_read_timeout_is_never_retried_so_the_function_runs_once(
    aws: LocalAws,
    aws_connection: str,
    make_function: Callable[..., str],
    executions: Callable[[str], int],
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The client gives up after 3 - 2 = 1 s while the function (timeout 3 s) runs for 2.5 s.
    monkeypatch.setattr(lambdapipe.invoking.invoker, "READ_TIMEOUT_MARGIN_S", -2)
    make_function("slow", "sleep", Timeout=3)
    with DAG(dag_id="invoke_read_timeout", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="slow", payload={"seconds": 2.5})

    run = run_dag(dag)
    log = task_log(capsys)
    wait_until(lambda: aws.runtime_stats()["environments_busy"] == 0, what="the slow function to finish")

    assert task_states(run) == {"invoke": "failed"}
    assert "InvokeTimeoutError: slow: no answer within 1 s (function timeout 3 s + margin)" in log
    assert "not retried because the function may have run" in log
    assert aws.calls.snapshot()["lambda:Invoke:slow"] == 1
    assert executions("slow") == 1


def test_the_hooks_invoke_json_retries_a_throttle_like_the_operator(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str]
) -> None:
    """``lambdapipe invoke`` and deploy smoke tests go through ``invoke_json``: one 429 must not fail them."""
    from lambdapipe.hooks.lambda_function import LambdaHook

    make_function("echo", "echo")
    aws.faults.add(
        FaultRule(
            service="lambda", operation="Invoke", function_name="echo", error="lambda_throttle", count=1
        )
    )

    outcome = LambdaHook(aws_conn_id=aws_connection).invoke_json("echo", {"order_id": 7})

    assert (outcome.json(), outcome.throttles, outcome.function_error) == (
        {"received": {"order_id": 7}},
        1,
        None,
    )
    assert aws.calls.snapshot()["lambda:Invoke:echo"] == 2


def test_an_event_invocation_is_queued_through_the_invoker_and_retried_when_throttled(
    aws: LocalAws, aws_connection: str, make_function: Callable[..., str], executions: Callable[[str], int]
) -> None:
    make_function("queued_echo", "echo")
    aws.faults.add(
        FaultRule(
            service="lambda",
            operation="Invoke",
            function_name="queued_echo",
            error="lambda_throttle",
            count=2,
        )
    )
    with DAG(dag_id="invoke_event_throttled", schedule=None) as dag:
        LambdaInvokeOperator(
            task_id="queue", function_name="queued_echo", payload={}, invocation_type="Event"
        )

    run = run_dag(dag)

    assert task_states(run) == {"queue": "success"}
    assert xcom(run, "queue")["status_code"] == 202
    assert aws.calls.snapshot()["lambda:Invoke:queued_echo"] == 3
    wait_until(lambda: executions("queued_echo") == 1, timeout_s=30, what="the queued event ran once")
