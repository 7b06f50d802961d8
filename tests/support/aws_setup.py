"""AWS set-up shared by the test packages: the Lambda trust policy and the ``aws_default`` connection."""

from __future__ import annotations

import json
import os

import pytest

LAMBDA_ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def use_aws_default_connection(endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``aws_default`` at ``endpoint_url`` and remove every other way to reach AWS.

    No AWS_* variable and no config or credentials file is left, so a test passes only if the code
    under test reaches AWS through the connection, as a deployment does.
    """
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return "aws_default"
