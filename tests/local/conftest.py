"""Fixtures for tests of the local AWS stack: one in-process server per session, reset per test."""

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
REPO_ROOT = Path(__file__).resolve().parents[2]
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
    sdk = os.environ.get("LAMBDAPIPE_NODE_SDK_DIR") or REPO_ROOT / ".local" / "node-sdk"
    with LocalAws(async_retry_delays_s=(0.2, 0.4), idle_timeout_s=60, node_sdk_dir=sdk) as aws:
        yield aws


@pytest.fixture
def aws(local_aws_server: LocalAws) -> LocalAws:
    """A clean stack: no resources, no warm environments, no faults, zero call counts."""
    local_aws_server.reset()
    return local_aws_server


@pytest.fixture
def role_arn(aws: LocalAws) -> str:
    return aws.client("iam").create_role(RoleName="lambda-test", AssumeRolePolicyDocument=ASSUME_ROLE)[
        "Role"
    ]["Arn"]


@pytest.fixture(scope="session")
def python_probe_zip() -> bytes:
    return zip_folder(FUNCTIONS / "python_probe")


@pytest.fixture(scope="session")
def node_probe_zip() -> bytes:
    return zip_folder(FUNCTIONS / "node_probe")


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


@pytest.fixture
def lambda_client(aws: LocalAws) -> Any:
    """A Lambda client configured like our operators: no retries, a read timeout above the function's."""
    from botocore.config import Config

    return aws.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))


@pytest.fixture(scope="session")
def node_sdk_available(local_aws_server: LocalAws) -> bool:
    sdk = local_aws_server.node_sdk_dir
    return sdk is not None and (sdk / "node_modules" / "@aws-sdk" / "client-s3").is_dir()
