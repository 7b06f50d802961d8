"""Every invocation yields one metrics record: REPORT line numbers, cold/warm start, cost, task identity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from airflow.sdk import DAG

from lambdapipe.operators.lambda_invoke import INVOCATIONS_XCOM_KEY, LambdaInvokeOperator
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, task_log, xcom


def test_each_invocation_pushes_a_metrics_record_cold_then_warm_with_its_cost(
    aws_connection: str,
    make_function: Callable[..., str],
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__PRICE_GB_SECOND_X86_64", "0.001")
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__PRICE_PER_REQUEST", "0.0005")
    make_function("echo", "echo", MemorySize=256)
    with DAG(dag_id="invoke_metrics", schedule=None) as dag:
        cold = LambdaInvokeOperator(task_id="cold", function_name="echo", payload={"n": 1})
        warm = LambdaInvokeOperator(task_id="warm", function_name="echo", payload={"n": 2})
        cold >> warm

    run = run_dag(dag)
    log = task_log(capsys)
    [cold_record] = xcom(run, "cold", INVOCATIONS_XCOM_KEY)
    [warm_record] = xcom(run, "warm", INVOCATIONS_XCOM_KEY)

    assert task_states(run) == {"cold": "success", "warm": "success"}
    for task_id, record in (("cold", cold_record), ("warm", warm_record)):
        assert record["function_name"] == "echo"
        assert (record["qualifier"], record["executed_version"]) == (None, "$LATEST")
        assert (record["status"], record["error_type"]) == ("success", None)
        identity = {key: record[key] for key in ("dag_id", "run_id", "task_id", "map_index", "try_number")}
        assert identity == {
            "dag_id": "invoke_metrics",
            "run_id": run.run_id,
            "task_id": task_id,
            "map_index": None,
            "try_number": 1,
        }
        assert record["memory_size_mb"] == 256
        assert 0 < record["max_memory_used_mb"] <= 256
        assert record["billed_duration_ms"] >= record["duration_ms"] > 0
        assert record["cost_usd"] == pytest.approx(
            record["billed_duration_ms"] / 1000 * 256 / 1024 * 0.001 + 0.0005
        )
        logs_link = xcom(run, task_id, "lambdapipe_lambda_invocation_logs")
        assert record["request_id"] == logs_link["request_id"]
    assert cold_record["init_duration_ms"] > 0
    assert warm_record["init_duration_ms"] is None
    assert f"Request {cold_record['request_id']} on version $LATEST: " in log
    assert (
        f"cold start (init {cold_record['init_duration_ms']:.2f} ms), cost ${cold_record['cost_usd']:.10f}"
        in log
    )
    assert f"MB, warm, cost ${warm_record['cost_usd']:.10f}" in log
