"""The invocation ledger belongs to the operators: a user's own DAG reaches the Lambda view unaided.

Each test runs a user's DAG with ``dag.test()`` (real task instances against the local stack), then
reads the Lambda view's API or the ``lambda_invocations`` table: no test code writes a ledger row.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk import DAG

from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe.packaging.lambda_api import MANAGED_TAG, MANAGED_TAG_VALUE
from lambdapipe.tables.catalog import load_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.query import read_table
from lambdapipe.ui import URL_PREFIX
from lambdapipe_local import LocalAws
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.dag_runs import register, task_states
from tests.support.dag_test import run_dag

HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"hello": event.get("name")}
"""
RESULTS_BUCKET = "ledger-results"
FIRST_RUN = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def hello(connections: TablesConfig, local_aws: LocalAws) -> str:
    """A function lambdapipe manages (tagged as its deploys tag them), not yet used by any DAG."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    role = local_aws.client("iam").create_role(
        RoleName="ledger-tests", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE
    )
    local_aws.client("lambda").create_function(
        FunctionName="hello-ledger",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Tags={MANAGED_TAG: MANAGED_TAG_VALUE},
    )
    local_aws.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
    return "hello-ledger"


def _user_dag(dag_id: str, *operators: Any) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        for operator in operators:
            dag.add_task(operator)
    return dag


def _ledger_rows(dag_id: str) -> list[dict[str, Any]]:
    rows = read_table(load_table("lambda_invocations")).to_pylist()
    return [row for row in rows if row["dag_id"] == dag_id]


def test_a_user_dags_invoke_operator_shows_in_the_lambda_view_with_no_extra_code(
    client: Any, auth: dict[str, str], hello: str
) -> None:
    dag_id = f"user_dag_{uuid.uuid4().hex[:6]}"
    dag = _user_dag(
        dag_id, LambdaInvokeOperator(task_id="say_hello", function_name=hello, payload={"name": "ada"})
    )

    run = run_dag(dag)

    assert task_states(run) == {"say_hello": "success"}
    page = client.get(f"{URL_PREFIX}/api/invocations", params={"dag_id": dag_id}, headers=auth)
    assert page.status_code == 200, page.text
    shown = [
        (row["dag_id"], row["task_id"], row["function_name"], row["status"])
        for row in page.json()["invocations"]
    ]
    assert shown == [(dag_id, "say_hello", hello, "success")]
    functions = client.get(f"{URL_PREFIX}/api/functions", headers=auth).json()["functions"]
    assert [(f["name"], f["dag_ids"]) for f in functions] == [(hello, [dag_id])]


def test_a_failed_invocation_is_recorded_and_the_task_still_fails(hello: str) -> None:
    dag_id = f"user_dag_{uuid.uuid4().hex[:6]}"
    dag = _user_dag(dag_id, LambdaInvokeOperator(task_id="fail", function_name=hello, payload={"fail": True}))

    run = run_dag(dag)

    assert task_states(run) == {"fail": "failed"}
    [row] = _ledger_rows(dag_id)
    assert (row["task_id"], row["status"], row["try_number"]) == ("fail", "function_error", 1)


def test_a_fan_out_records_each_invocation_once_even_when_its_task_runs_again(hello: str) -> None:
    dag_id = f"user_dag_{uuid.uuid4().hex[:6]}"
    items = [{"name": f"n{index}"} for index in range(5)]
    dag = _user_dag(
        dag_id,
        LambdaMapOperator(
            task_id="greet_all", function_name=hello, items=items, results_bucket=RESULTS_BUCKET
        ),
    )

    register(dag)
    first = dag.test(logical_date=FIRST_RUN, run_after=FIRST_RUN)
    again = dag.test(logical_date=FIRST_RUN, run_after=FIRST_RUN)  # the same run: it resumes, invokes nothing

    assert again.run_id == first.run_id and task_states(again) == {"greet_all": "success"}
    rows = _ledger_rows(dag_id)
    assert len(rows) == 5 and {row["status"] for row in rows} == {"success"}
    assert len({row["request_id"] for row in rows}) == 5


def test_recording_can_be_turned_off_per_operator(hello: str) -> None:
    dag_id = f"user_dag_{uuid.uuid4().hex[:6]}"
    quiet = LambdaInvokeOperator(task_id="quiet", function_name=hello, payload={}, record_invocations=False)
    loud = LambdaInvokeOperator(task_id="loud", function_name=hello, payload={})

    run_dag(_user_dag(dag_id, quiet, loud))

    assert [row["task_id"] for row in _ledger_rows(dag_id)] == ["loud"]


def test_a_ledger_that_cannot_be_written_never_fails_the_task(
    hello: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = {
        "conn_type": "generic",
        "extra": {"warehouse": "s3://no-such-bucket-anywhere/w", "create_bucket": False},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps(broken))
    dag_id = f"user_dag_{uuid.uuid4().hex[:6]}"

    run = run_dag(
        _user_dag(dag_id, LambdaInvokeOperator(task_id="say_hello", function_name=hello, payload={}))
    )

    assert task_states(run) == {"say_hello": "success"}
    assert "1 invocation record(s) not written to lambda_invocations" in capsys.readouterr().out
