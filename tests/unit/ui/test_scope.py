"""Which functions a DAG uses, as the Lambda view reads it from the serialized DAG."""

from __future__ import annotations

from typing import Any

from lambdapipe.ui.scope import dag_functions


def _serialized(dag: Any) -> dict[str, Any]:
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.to_dict(dag)


def test_a_dag_uses_the_functions_its_tasks_name_by_name_arn_or_qualifier_and_the_folders_it_deploys() -> (
    None
):
    from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
    from airflow.sdk import DAG

    from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator
    from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
    from lambdapipe.operators.lambda_map import LambdaMapOperator

    with DAG("uses_functions", schedule=None) as dag:
        LambdaInvokeOperator(task_id="by_name", function_name="plain")
        LambdaInvokeOperator(task_id="by_alias", function_name="aliased:live")
        LambdaMapOperator(
            task_id="by_arn",
            function_name="arn:aws:lambda:us-east-1:000000000000:function:mapped:7",
            results_bucket="results",
            items=[1],
        )
        LambdaInvokeFunctionOperator(task_id="amazon_operator", function_name="amazons")
        LambdaDeployFunctionOperator(task_id="deploy_folder", function_dir="/srv/lambda_functions/deployed")

    assert dag_functions(_serialized(dag)) == {"plain", "aliased", "mapped", "amazons", "deployed"}


def test_a_templated_function_name_is_known_only_once_rendered_so_it_does_not_count() -> None:
    from airflow.sdk import DAG

    from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator

    with DAG("templated", schedule=None) as dag:
        LambdaInvokeOperator(task_id="templated", function_name="{{ params.function }}")

    assert dag_functions(_serialized(dag)) == frozenset()
