"""Deploy tests run against the session's in-process local AWS stack (tests/conftest.py), reset per test.

Two ways to reach it, as in production: the AWS environment variables (``AWS_ENDPOINT_URL``; the CLI
and ``FunctionDeployer`` with ``aws_conn_id=None``) or the ``aws_default`` Airflow connection
(operators under ``dag.test()``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.deployment import DeployResult, FunctionDeployer
from lambdapipe.local import LocalAws


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
