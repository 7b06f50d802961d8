"""Put small DAGs that invoke Lambda functions into the test session's metadata DB, as the DAG
processor would."""

from __future__ import annotations


def register_invoking_dag(dag_id: str, *functions: str) -> None:
    """Store a DAG ``dag_id`` with one ``LambdaInvokeOperator`` per function name."""
    from airflow.sdk import DAG

    from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
    from tests.support.dag_runs import register

    with DAG(dag_id, schedule=None) as dag:
        for name in functions:
            LambdaInvokeOperator(task_id=f"invoke_{name}", function_name=name)
    register(dag)
