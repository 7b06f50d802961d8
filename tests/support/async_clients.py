"""An async Lambda client built the way the operators build theirs, for invoker tests of every tier."""

from __future__ import annotations

from typing import Any

from aiobotocore.session import get_session

from lambdapipe.invoking.invoker import FunctionInfo, invoke_client_config

ECHO = FunctionInfo("echo", timeout_s=3, memory_size_mb=128)


def async_lambda_client(endpoint_url: str, function: FunctionInfo) -> Any:
    """An aiobotocore Lambda client (an async context manager) configured as the operators configure it."""
    return get_session().create_client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=invoke_client_config(function, None),
    )
