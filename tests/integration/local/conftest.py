"""Fixtures for tests of the local AWS stack (the server itself: tests/conftest.py, reset per test)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdapipe_local import LocalAws
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.local_stack import PROBE_FUNCTIONS, zip_folder


@pytest.fixture
def role_arn(aws: LocalAws) -> str:
    role = aws.client("iam").create_role(RoleName="lambda-test", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE)
    return role["Role"]["Arn"]


@pytest.fixture(scope="session")
def python_probe_zip() -> bytes:
    return zip_folder(PROBE_FUNCTIONS / "python_probe")


@pytest.fixture(scope="session")
def node_probe_zip() -> bytes:
    return zip_folder(PROBE_FUNCTIONS / "node_probe")


@pytest.fixture
def make_function(aws: LocalAws, role_arn: str) -> Callable[..., str]:
    """Create a function from a probe zip and return its name."""

    def create(name: str, code: bytes, handler: str, runtime: str = "python3.11", **config: Any) -> str:
        aws.client("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": code},
            **config,
        )
        return name

    return create


@pytest.fixture(scope="session")
def node_sdk_available(local_aws_server: LocalAws) -> bool:
    sdk = local_aws_server.node_sdk_dir
    return sdk is not None and (sdk / "node_modules" / "@aws-sdk" / "client-s3").is_dir()
