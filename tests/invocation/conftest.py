"""Invocation tests run our operators for real (``dag.test()``) against one local AWS stack per session.

Operators reach the stack only through the ``aws_default`` connection (no AWS_* variable is set in
the test process), as they would reach AWS. Every function is deployed from the handlers in
``functions/invocation_probe`` and leaves one S3 object per execution in ``EXECUTIONS_BUCKET``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.local import LocalAws
from tests.local.helpers import zip_folder

FUNCTIONS = Path(__file__).parent / "functions"
EXECUTIONS_BUCKET = "executions"
ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    with LocalAws(async_retry_delays_s=(0.2, 0.4), idle_timeout_s=60) as aws:
        yield aws


@pytest.fixture
def aws(local_aws_server: LocalAws) -> LocalAws:
    """A clean stack (no resources, warm environments, faults or call counts) with the executions bucket."""
    local_aws_server.reset()
    local_aws_server.client("s3").create_bucket(Bucket=EXECUTIONS_BUCKET)
    return local_aws_server


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata tables in the session's throwaway AIRFLOW_HOME (set by tests/conftest.py)."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture
def aws_connection(aws: LocalAws, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """``aws_default`` pointing at the local stack; no AWS_* variable, so only the connection is used."""
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": aws.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return "aws_default"


@pytest.fixture(scope="session")
def probe_zip() -> bytes:
    return zip_folder(FUNCTIONS / "invocation_probe")


@pytest.fixture
def make_function(aws: LocalAws, probe_zip: bytes) -> Callable[..., str]:
    """``make_function(name, handler, **config)``: deploy a probe handler and return the function name."""
    role = aws.client("iam").create_role(RoleName="invocation-tests", AssumeRolePolicyDocument=ASSUME_ROLE)
    lambda_client = aws.client("lambda")

    def create(name: str, handler: str, **config: Any) -> str:
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler=f"app.{handler}",
            Code={"ZipFile": probe_zip},
            Environment={"Variables": {"EXECUTIONS_BUCKET": EXECUTIONS_BUCKET}},
            **config,
        )
        return name

    return create


@pytest.fixture
def executions(aws: LocalAws) -> Callable[[str], int]:
    """``executions(function_name)``: how many times the function's code really ran."""
    s3 = aws.client("s3")

    def count(function_name: str) -> int:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=EXECUTIONS_BUCKET, Prefix=f"{function_name}/"
        )
        return sum(len(page.get("Contents", [])) for page in pages)

    return count
