"""LambdaProvisionedConcurrencyOperator in real ``dag.test()`` runs against an in-process local AWS stack.

The ``aws_default`` connection points at the stack (``AIRFLOW_CONN_AWS_DEFAULT``), so the operator, its
hook and, in deferrable mode, its trigger reach it exactly as they reach AWS.
"""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdapipe_local import LocalAws

TRIGGER = "lambdapipe.triggers.lambda_function.LambdaProvisionedConcurrencyTrigger"
WRITES = ("lambda:PutProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig")
DAG_FILE = """
import pendulum
from airflow.sdk import DAG

from lambdapipe.operators.lambda_function import LambdaProvisionedConcurrencyOperator

for dag_id, deferrable in (("provision", False), ("provision_deferrable", True)):
    with DAG(
        dag_id,
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1),
        params={"function_name": "batch", "provisioned_concurrency": 0},
    ) as dag:
        LambdaProvisionedConcurrencyOperator(
            task_id="provision",
            function_name="{{ params.function_name }}",
            qualifier="live",
            provisioned_concurrency="{{ params.provisioned_concurrency }}",
            deferrable=deferrable,
            waiter_delay=1,
            waiter_max_attempts=60,
        )
    globals()[dag_id] = dag
"""


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(idle_timeout_s=60, check_signatures=True) as aws:
        yield aws


@pytest.fixture(scope="module")
def dags(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The test DAGs, in a bundle of their own (``dag.test()`` runs only DAGs it finds in a bundle)."""
    from airflow.utils.db import initdb

    folder = tmp_path_factory.mktemp("dags")
    (folder / "provisioned_concurrency_dags.py").write_text(DAG_FILE)
    bundle = {
        "name": "provisioned-concurrency-tests",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
        initdb()  # the session's throwaway metadata DB (tests/conftest.py), created once
        yield _load(folder / "provisioned_concurrency_dags.py")


@pytest.fixture
def aws(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """A clean stack, reachable only through the ``aws_default`` connection."""
    local_aws.reset()
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": local_aws.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return local_aws


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("provisioned_concurrency_dags", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _create_function(aws: LocalAws, name: str, module_source: str) -> None:
    """``name`` with version 1 published and alias ``live`` pointing at it."""
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", module_source)
    client = aws.client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Publish=True,
    )
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")


@pytest.fixture
def batch(aws: LocalAws) -> str:
    _create_function(aws, "batch", "def handler(event, context):\n    return event\n")
    return "batch"


def _run(dags: Any, dag_id: str, **conf: Any) -> tuple[str, dict | None]:
    """Run the DAG once; its final state and the task's XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = getattr(dags, dag_id).test(run_conf=conf)
    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, task_ids="provision", key="return_value")
        ).all()
    return run.state, (rows[0].value if rows else None)


def _writes(aws: LocalAws) -> dict[str, int]:
    counts = aws.calls.snapshot()
    return {key: counts[key] for key in WRITES}


def _triggers() -> int:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(Trigger).where(Trigger.classpath == TRIGGER))


def test_set_waits_until_ready_and_a_rerun_writes_nothing(dags, aws, batch):
    state, result = _run(dags, "provision", provisioned_concurrency=2)

    assert state == "success"
    assert result == {
        "function_name": "batch",
        "qualifier": "live",
        "requested": 2,
        "allocated": 2,
        "status": "READY",
        "changed": True,
    }
    before = _writes(aws)
    state, rerun = _run(dags, "provision", provisioned_concurrency=2)
    assert state == "success"
    assert rerun == result | {"changed": False}
    assert _writes(aws) == before


def test_an_invocation_after_the_task_is_warm(dags, aws, batch):
    import base64

    _run(dags, "provision", provisioned_concurrency=1)

    response = aws.client("lambda").invoke(FunctionName=batch, Qualifier="live", LogType="Tail")
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()


def test_zero_clears_the_config_and_clearing_again_writes_nothing(dags, aws, batch):
    _run(dags, "provision", provisioned_concurrency=1)

    state, result = _run(dags, "provision", provisioned_concurrency=0)

    assert state == "success"
    assert result == {
        "function_name": "batch",
        "qualifier": "live",
        "requested": 0,
        "allocated": 0,
        "status": "DELETED",
        "changed": True,
    }
    client = aws.client("lambda")
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName=batch, Qualifier="live")
    before = _writes(aws)
    assert _run(dags, "provision", provisioned_concurrency=0) == ("success", result | {"changed": False})
    assert _writes(aws) == before


def test_deferrable_mode_waits_in_the_trigger(dags, aws, batch):
    triggers = _triggers()

    state, result = _run(dags, "provision_deferrable", provisioned_concurrency=3)

    assert state == "success"
    assert _triggers() == triggers + 1
    assert result is not None
    assert (result["status"], result["allocated"], result["changed"]) == ("READY", 3, True)
    state, result = _run(dags, "provision_deferrable", provisioned_concurrency=0)
    assert state == "success"
    assert _triggers() == triggers + 2
    assert (result["status"], result["changed"]) == ("DELETED", True)


@pytest.mark.parametrize("dag_id", ["provision", "provision_deferrable"])
def test_a_failed_allocation_fails_the_task_with_lambdas_reason(dags, aws, dag_id, capfd):
    _create_function(aws, "broken", "import module_that_is_not_packaged\n")

    state, result = _run(dags, dag_id, function_name="broken", provisioned_concurrency=1)

    assert state == "failed"
    assert result is None
    output = capfd.readouterr()
    assert (
        "Provisioned concurrency 1 on broken:live FAILED: FUNCTION_ERROR_INIT_FAILURE: "
        "Runtime.ImportModuleError: Unable to import module 'app': "
        "No module named 'module_that_is_not_packaged'"
    ) in output.out + output.err
