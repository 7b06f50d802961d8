"""``LambdaDeployFunctionOperator`` through Airflow for real: ``dag.test()`` runs it against the local
stack through the ``aws_default`` connection, blocking or deferred (the trigger runs inline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator
from lambdapipe_local import LocalAws
from tests.support.aws_calls import write_calls
from tests.support.dag_runs import (
    asset_events,
    deploy_triggers_created,
    register,
    task_states,
    xcom_return_values,
)
from tests.support.deploy_folders import copy_function, replace_in_file
from tests.support.shipped_functions import SHIPPED_FUNCTIONS

REPO_ROOT = Path(__file__).resolve().parents[3]
XCOM_KEYS = {
    "function_name",
    "function_arn",
    "version",
    "code_sha256",
    "changed",
    "alias",
    "smoke_tests",
    "endpoints",
    "deployment",
}


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferrable"])
def test_operator_creates_then_updates_code_and_configuration_then_does_nothing(
    deferrable: bool, aws: LocalAws, aws_connection: str, tmp_path: Path
) -> None:
    folder = copy_function("hello_world", tmp_path / "operated")
    with DAG(
        dag_id=f"test_deploy_operator_{'deferrable' if deferrable else 'blocking'}", schedule=None
    ) as dag:
        LambdaDeployFunctionOperator(
            task_id="deploy", function_dir=str(folder), deferrable=deferrable, aws_conn_id=aws_connection
        )
    register(dag)
    triggers_before = deploy_triggers_created()

    created = xcom_return_values(dag.test())["deploy"]
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello again!")
    replace_in_file(folder / "function.toml", "memory = 128", "memory = 256")
    aws.calls.reset()
    updated_run = dag.test()
    update_counts = aws.calls.snapshot()
    aws.calls.reset()
    unchanged_run = dag.test()

    assert set(created) == XCOM_KEYS
    assert (created["function_name"], created["version"], created["changed"]) == ("operated", "1", True)
    assert created["smoke_tests"] == ["empty", "list-payload", "with-payload"]
    assert task_states(updated_run) == {"deploy": "success"}
    updated = xcom_return_values(updated_run)["deploy"]
    assert (updated["version"], updated["changed"], updated["alias"]) == ("2", True, "live")
    assert (
        update_counts["lambda:UpdateFunctionCode"] == update_counts["lambda:UpdateFunctionConfiguration"] == 1
    )
    unchanged = xcom_return_values(unchanged_run)["deploy"]
    assert (unchanged["version"], unchanged["changed"]) == ("2", False)
    assert write_calls(aws.calls.snapshot()) == {}
    # Deferred: one wait after the create, two after the code then the configuration update, none after.
    assert deploy_triggers_created() - triggers_before == (3 if deferrable else 0)


def test_deploy_dag_file_deploys_every_shipped_function_in_one_run(
    aws: LocalAws, aws_connection: str
) -> None:
    dagbag = DagBag(dag_folder=REPO_ROOT / "dags" / "deploy_lambda_functions.py", safe_mode=False)
    dag = dagbag.dags["deploy_lambda_functions"]

    run = dag.test()

    assert task_states(run) == {f"deploy_{name}": "success" for name in SHIPPED_FUNCTIONS}
    results = xcom_return_values(run)
    assert {task_id: (xcom["version"], xcom["alias"]) for task_id, xcom in results.items()} == {
        f"deploy_{name}": ("1", "live") for name in SHIPPED_FUNCTIONS
    }
    assert asset_events(run) == [f"lambda_function/{name}" for name in SHIPPED_FUNCTIONS]
    assert aws.client("lambda").get_alias(FunctionName="image_resize", Name="live")["FunctionVersion"] == "1"
