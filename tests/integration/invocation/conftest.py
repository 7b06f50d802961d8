"""Invocation tests run our operators for real (``dag.test()``) against one local AWS stack per session.

Operators reach the stack only through the ``aws_default`` connection (no AWS_* variable is set in
the test process), as they would reach AWS. Every function is deployed from the handlers in
``functions/invocation_probe`` and leaves one S3 object per execution in ``EXECUTIONS_BUCKET``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdapipe_local import LocalAws
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.local_stack import zip_folder

FUNCTIONS = Path(__file__).parent / "functions"
EXECUTIONS_BUCKET = "executions"


@pytest.fixture
def aws(aws: LocalAws) -> LocalAws:
    """The clean stack of tests/conftest.py, with the executions bucket."""
    aws.client("s3").create_bucket(Bucket=EXECUTIONS_BUCKET)
    return aws


@pytest.fixture(scope="session")
def probe_zip() -> bytes:
    return zip_folder(FUNCTIONS / "invocation_probe")


@pytest.fixture
def make_function(aws: LocalAws, probe_zip: bytes) -> Callable[..., str]:
    """``make_function(name, handler, **config)``: deploy a probe handler and return the function name."""
    role = aws.client("iam").create_role(
        RoleName="invocation-tests", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE
    )
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
