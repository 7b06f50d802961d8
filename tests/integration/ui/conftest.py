"""Fixtures for the Lambda view: Airflow's real API app in-process, the local AWS stack, a fresh catalog.

The app is ``airflow.api_fastapi.app.create_app()``, the one ``airflow api-server`` serves, with our
plugin mounted by Airflow's plugin manager, so the tests exercise Airflow's own authentication.
The AWS and table settings reach the app only through the ``aws_default`` and ``lambdapipe_tables``
connections, as on a deployment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.tables.config import TablesConfig
from lambdapipe_local import LocalAws
from tests.support.aws_setup import use_aws_default_connection

WAREHOUSE_BUCKET = "lambdapipe-ui-tests"


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(idle_timeout_s=60, check_signatures=True) as aws:
        yield aws


@pytest.fixture(scope="session")
def client(airflow_db: None) -> Any:
    """A TestClient of Airflow's API server app, without credentials."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


@pytest.fixture(scope="session")
def admin_token(client: Any) -> str:
    """A JWT for an admin, signed by the API server's auth manager like the one ``/auth/token`` returns."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))


@pytest.fixture
def auth(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture
def connections(local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TablesConfig:
    """A clean local stack and a fresh catalog behind ``aws_default`` / ``lambdapipe_tables``.

    No AWS_* variable is left, so only the connections can work. Returns the table settings for the
    test's own writes.
    """
    local_aws.reset()
    use_aws_default_connection(local_aws.endpoint_url, monkeypatch)
    config = TablesConfig(
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{WAREHOUSE_BUCKET}/{uuid.uuid4().hex[:8]}",
        aws_conn_id="aws_default",
        create_bucket=True,
    )
    tables = {
        "conn_type": "generic",
        "extra": {"catalog_uri": config.catalog_uri, "warehouse": config.warehouse, "create_bucket": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps(tables))
    return config
