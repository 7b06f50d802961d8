"""Deploy tests run against one in-process local AWS stack per session, reset before each test.

Two ways to reach it, as in production: the AWS environment variables (``AWS_ENDPOINT_URL``; the CLI
and ``FunctionDeployer`` with ``aws_conn_id=None``) or the ``aws_default`` Airflow connection
(operators under ``dag.test()``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.deployment import DeployResult, FunctionDeployer
from lambdapipe.local import LocalAws

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    sdk = os.environ.get("LAMBDAPIPE_NODE_SDK_DIR") or REPO_ROOT / ".local" / "node-sdk"
    with LocalAws(async_retry_delays_s=(0.2, 0.4), idle_timeout_s=60, node_sdk_dir=sdk) as aws:
        yield aws


@pytest.fixture
def aws(local_aws_server: LocalAws) -> LocalAws:
    """A clean stack: no resources, no warm environments, no faults, zero call counts."""
    local_aws_server.reset()
    return local_aws_server


@pytest.fixture
def aws_environment(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The AWS variables pointing at the local stack, as a shell running ``lambdapipe deploy`` has them."""
    environment = {
        **aws.environ(),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return environment


@pytest.fixture
def deploy(aws_environment: dict[str, str]) -> Callable[..., DeployResult]:
    """``deploy(function_dir, **options)``: a synchronous deploy, as ``lambdapipe deploy`` runs it."""
    from lambdapipe.hooks.iam import IamHook
    from lambdapipe.hooks.lambda_function import LambdaHook

    def run(function_dir: Path, **options: Any) -> DeployResult:
        return FunctionDeployer(
            function_dir=function_dir,
            lambda_hook=LambdaHook(aws_conn_id=None),
            iam_hook=IamHook(aws_conn_id=None),
            **options,
        ).run()

    return run


@pytest.fixture
def lambda_client(aws: LocalAws) -> Any:
    """A Lambda client with no retries and a read timeout above the functions' timeouts."""
    from botocore.config import Config

    return aws.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Create the metadata tables in the session's throwaway AIRFLOW_HOME (set by tests/conftest.py)."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture
def aws_connection(aws: LocalAws, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """``aws_default`` pointing at the local stack; no AWS_* variable, so only the connection can be used."""
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": aws.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return "aws_default"
