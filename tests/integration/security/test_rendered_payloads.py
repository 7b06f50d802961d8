"""Payloads are not kept in Airflow's metadata DB unless asked (finding 8 of the security issue).

Airflow stores every rendered template field of a task (its "Rendered Template" tab). The invoke
and map operators' payloads used to be stored there in full, though their logs promise that
payloads are never written out; now a large or sensitive payload is stored as its size and sha256,
and the function still receives all of it. The function's log tail is at DEBUG unless asked: see
``tests/integration/invocation/test_invoke_operator.py``.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from airflow.sdk import DAG

from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
from lambdapipe.operators.lambda_map import LambdaMapOperator
from lambdapipe_local import LocalAws
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, xcom

SECRET = "4111-SECRET-CARD-0042"
ECHO = "def handler(event, context):\n    return {'received': event}\n"


@pytest.fixture
def echo(aws: LocalAws, aws_connection: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", ECHO)
    role = aws.client("iam").create_role(
        RoleName="payload-tests", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE
    )
    aws.client("lambda").create_function(
        FunctionName="echo",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    aws.client("s3").create_bucket(Bucket="map-results")
    return "echo"


def stored_rendered_fields(run: Any, task_id: str) -> list[dict[str, Any]]:
    """What Airflow's metadata DB holds of the task's rendered template fields, per map index."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Stored
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(Stored.rendered_fields)
            .where(Stored.dag_id == run.dag_id, Stored.run_id == run.run_id, Stored.task_id == task_id)
            .order_by(Stored.map_index)
        )
        return list(rows)


def test_a_large_or_sensitive_payload_is_stored_as_its_size_and_hash_and_still_sent_in_full(
    echo: str,
) -> None:
    large = {"card": SECRET, "lines": ["x" * 40] * 40}  # about 1.7 KB
    with DAG(dag_id="payload_not_stored", schedule=None) as dag:
        LambdaInvokeOperator(task_id="large", function_name=echo, payload=large)
        LambdaInvokeOperator(
            task_id="sensitive",
            function_name=echo,
            payload='{"card": "{{ params.card }}"}',
            params={"card": SECRET},
            store_rendered_payload="summary",
        )
        LambdaInvokeOperator(task_id="small", function_name=echo, payload={"order_id": 7})

    run = run_dag(dag)

    assert task_states(run) == {"large": "success", "sensitive": "success", "small": "success"}
    assert xcom(run, "large") == {"received": large}
    assert xcom(run, "sensitive") == {"received": {"card": SECRET}}
    large_field = stored_rendered_fields(run, "large")[0]["payload"]
    sensitive_field = stored_rendered_fields(run, "sensitive")[0]["payload"]
    assert SECRET not in json.dumps(large_field) and SECRET not in json.dumps(sensitive_field)
    assert "payload not stored (above 1024 bytes)" in large_field and "sha256" in large_field
    assert "payload not stored (sensitive)" in sensitive_field
    assert stored_rendered_fields(run, "small")[0]["payload"] == {"order_id": 7}, (
        "small payloads stay readable"
    )


def test_a_task_that_asks_keeps_its_payload_in_full(echo: str) -> None:
    large = {"card": SECRET, "lines": ["x" * 40] * 40}
    with DAG(dag_id="payload_kept", schedule=None) as dag:
        LambdaInvokeOperator(task_id="kept", function_name=echo, payload=large, store_rendered_payload="full")

    run = run_dag(dag)

    assert stored_rendered_fields(run, "kept")[0]["payload"] == large


def test_each_mapped_invoke_stores_its_own_payload_as_its_size_and_hash(echo: str) -> None:
    payloads = [{"card": SECRET, "copy": index, "lines": ["x" * 40] * 30} for index in range(2)]
    with DAG(dag_id="mapped_payload_not_stored", schedule=None) as dag:
        LambdaInvokeOperator.partial(task_id="each", function_name=echo).expand(payload=payloads)

    run = run_dag(dag)

    stored = stored_rendered_fields(run, "each")
    assert task_states(run) == {"each": "success"}
    assert len(stored) == 2
    assert all("payload not stored (above 1024 bytes)" in fields["payload"] for fields in stored)


def test_map_items_from_an_upstream_task_are_stored_as_their_size_and_hash(echo: str) -> None:
    items = [{"card": f"{SECRET}-{index}"} for index in range(40)]
    with DAG(dag_id="items_not_stored", schedule=None) as dag:
        LambdaMapOperator(
            task_id="fan_out",
            function_name=echo,
            items=items,
            results_bucket="map-results",
            max_concurrency=4,
        )

    run = run_dag(dag)

    assert task_states(run) == {"fan_out": "success"}
    assert xcom(run, "fan_out")["succeeded_items"] == 40
    stored = stored_rendered_fields(run, "fan_out")[0]["items"]
    assert SECRET not in json.dumps(stored)
    assert "items not stored (above 1024 bytes)" in stored


def test_an_unknown_storage_choice_is_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="store_rendered_payload must be one of"):
        LambdaInvokeOperator(task_id="typo", function_name="echo", store_rendered_payload="none")
