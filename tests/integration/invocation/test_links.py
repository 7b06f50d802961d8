"""Extra links: the function and the invocation's logs, in the AWS console or in the local view."""

from __future__ import annotations

from collections.abc import Callable

from airflow.sdk import DAG

from lambdapipe.operators.lambda_invoke import INVOCATIONS_XCOM_KEY, LambdaInvokeOperator
from tests.support.dag_test import run_dag, xcom


def test_the_operator_persists_both_links_pointing_at_the_local_view_on_a_local_endpoint(
    aws_connection: str, make_function: Callable[..., str]
) -> None:
    make_function("echo", "echo")
    with DAG(dag_id="invoke_links", schedule=None) as dag:
        LambdaInvokeOperator(task_id="invoke", function_name="echo", payload={})

    run = run_dag(dag)
    [record] = xcom(run, "invoke", INVOCATIONS_XCOM_KEY)

    assert xcom(run, "invoke", "_link_LambdaFunctionLink") == "/lambdapipe/functions/echo"
    assert xcom(run, "invoke", "_link_LambdaInvocationLogsLink") == (
        f"/lambdapipe/functions/echo?request_id={record['request_id']}"
    )
