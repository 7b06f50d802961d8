"""The Lambda view shows each user only what they may see (finding 3 of the security issue).

The view reads Lambda and CloudWatch Logs with the API server's credentials. It used to answer for
any function of the account to anyone with the Plugins view (a confused deputy), and to read every
row of up to 366 days into the API server. Now a function, its page and its logs answer only for a
user who may read a DAG that uses it, and only if lambdapipe manages it; scans are capped where they
run, and recent invocations come a page at a time.

Per-DAG permissions come from ``tests.support.dag_scoped_auth`` (Airflow's simple auth manager lets
every viewer read every DAG): ``reader-of-<dag_id>`` may read that DAG only.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.packaging.lambda_api import MANAGED_TAG, MANAGED_TAG_VALUE
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import rows_to_arrow
from lambdapipe.tables.writer import append_rows
from lambdapipe.ui import URL_PREFIX
from lambdapipe.ui.invocations import read_invocations, recent_page
from lambdapipe_local import LocalAws
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.dag_scoped_auth import READER_PREFIX
from tests.support.dags_in_db import register_invoking_dag

HANDLER = "def handler(event, context):\n    print('secret payroll line')\n    return {}\n"
ORDERS_DAG, PAYROLL_DAG = "scope_orders", "scope_payroll"


@pytest.fixture(scope="module")
def client(airflow_db: None) -> Iterator[Any]:
    """Airflow's API server app with the DAG-scoped auth manager; the previous one is put back after."""
    from airflow.api_fastapi import app as api_app
    from fastapi.testclient import TestClient

    previous = api_app._AuthManagerState.instance
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.support.dag_scoped_auth.DagScopedAuthManager")
        yield TestClient(api_app.create_app())
    api_app._AuthManagerState.instance = previous


def _headers(username: str, role: str = "viewer") -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))
    return {"Authorization": f"Bearer {token}"}


def _create_function(aws: LocalAws, name: str, *, managed: bool) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    iam = aws.client("iam")
    role = iam.create_role(RoleName=f"scope-{name}", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE)
    lambda_client = aws.client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Tags={MANAGED_TAG: MANAGED_TAG_VALUE} if managed else {},
    )
    return lambda_client.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"]


@pytest.fixture
def functions(client: Any, aws: LocalAws, aws_connection: str) -> dict[str, str]:
    """``orders_fn`` and ``untagged_fn`` used by one DAG, ``payroll_fn`` by another; each invoked once.

    Returns each function's request id."""
    request_ids = {
        "orders_fn": _create_function(aws, "orders_fn", managed=True),
        "payroll_fn": _create_function(aws, "payroll_fn", managed=True),
        "untagged_fn": _create_function(aws, "untagged_fn", managed=False),
    }
    register_invoking_dag(ORDERS_DAG, "orders_fn", "untagged_fn")
    register_invoking_dag(PAYROLL_DAG, "payroll_fn")
    return request_ids


def _page_and_logs(client: Any, function: str, request_id: str, username: str) -> tuple[Any, Any]:
    """The function's page and one request's log lines, as ``username`` asks for them."""
    headers = _headers(username)
    page = client.get(f"{URL_PREFIX}/api/functions/{function}", headers=headers)
    logs = client.get(
        f"{URL_PREFIX}/api/functions/{function}/logs", params={"request_id": request_id}, headers=headers
    )
    return page, logs


def test_a_user_sees_only_the_functions_of_dags_they_may_read(client: Any, functions: dict[str, str]) -> None:
    reader = client.get(f"{URL_PREFIX}/api/functions", headers=_headers(READER_PREFIX + ORDERS_DAG))
    admin = client.get(f"{URL_PREFIX}/api/functions", headers=_headers("admin", "admin"))

    assert reader.status_code == 200, reader.text
    assert [(f["name"], f["dag_ids"]) for f in reader.json()["functions"]] == [("orders_fn", [ORDERS_DAG])]
    assert [f["name"] for f in admin.json()["functions"]] == ["orders_fn", "payroll_fn"]


def test_the_page_and_logs_of_a_function_no_readable_dag_uses_are_a_404_without_any_aws_call(
    client: Any, functions: dict[str, str], aws: LocalAws
) -> None:
    aws.calls.reset()

    page, logs = _page_and_logs(client, "payroll_fn", functions["payroll_fn"], READER_PREFIX + ORDERS_DAG)

    assert (page.status_code, logs.status_code) == (404, 404)
    assert "payroll line" not in logs.text
    assert "'payroll_fn' used by a DAG you may read" in page.json()["detail"]
    assert aws.calls.snapshot().calls == {}


def test_a_function_lambdapipe_does_not_manage_is_a_404_even_when_a_readable_dag_names_it(
    client: Any, functions: dict[str, str], aws: LocalAws
) -> None:
    aws.calls.reset()

    page, logs = _page_and_logs(client, "untagged_fn", functions["untagged_fn"], READER_PREFIX + ORDERS_DAG)

    assert (page.status_code, logs.status_code) == (404, 404)
    assert "managed by lambdapipe" in logs.json()["detail"]
    assert aws.calls.snapshot()["logs:FilterLogEvents"] == 0


def test_the_function_of_a_readable_dag_shows_its_page_and_logs(
    client: Any, functions: dict[str, str]
) -> None:
    page, logs = _page_and_logs(client, "orders_fn", functions["orders_fn"], READER_PREFIX + ORDERS_DAG)

    assert (page.status_code, logs.status_code) == (200, 200), (page.text, logs.text)
    assert logs.json()["lines"][0]["message"].startswith(f"START RequestId: {functions['orders_fn']}")


def test_the_view_reads_aws_through_the_configured_connection(
    functions: dict[str, str], aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from lambdapipe.ui.app import create_app
    from tests.support.aws_setup import use_aws_default_connection

    use_aws_default_connection("http://127.0.0.1:9", monkeypatch)  # nothing listens: aws_default fails
    view_connection = {"conn_type": "aws", "login": "testing", "password": "testing"}
    view_connection["extra"] = {"endpoint_url": aws.endpoint_url, "region_name": "us-east-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_LAMBDA_VIEW", json.dumps(view_connection))
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__UI_AWS_CONN_ID", "aws_lambda_view")

    response = TestClient(create_app()).get("/api/functions/orders_fn", headers=_headers("admin", "admin"))

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "orders_fn"


# Caps pushed down into the scans


@pytest.fixture
def tables(
    airflow_db: None, aws: LocalAws, aws_connection: str, tmp_path: Path, monkeypatch: Any
) -> TablesConfig:
    config = TablesConfig(
        catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://lambdapipe-scope-tests/{uuid.uuid4().hex[:8]}",
        aws_conn_id="aws_default",
        create_bucket=True,
    )
    extra = {"catalog_uri": config.catalog_uri, "warehouse": config.warehouse, "create_bucket": True}
    monkeypatch.setenv("AIRFLOW_CONN_LAMBDAPIPE_TABLES", json.dumps({"conn_type": "generic", "extra": extra}))
    return config


def _rows(tables: TablesConfig, times: list[datetime]) -> list[str]:
    """One invocation of DAG ``orders`` at each time; returns their request ids."""
    rows = [
        {
            "function_name": "etl",
            "request_id": f"req-{index:02d}",
            "status": "success",
            "duration_ms": 1.0,
            "dag_id": "orders",
            "invoked_at": at,
        }
        for index, at in enumerate(times)
    ]
    append_rows(ensure_table("lambda_invocations", tables), rows_to_arrow(rows))
    return [row["request_id"] for row in rows]


def every_dag(dag_ids: set[str]) -> set[str]:
    return dag_ids


@pytest.mark.parametrize("route", ["/api/stats", "/api/invocations"])
def test_more_than_90_days_is_refused(client: Any, route: str) -> None:
    response = client.get(f"{URL_PREFIX}{route}", params={"days": 91}, headers=_headers("admin", "admin"))

    assert response.status_code == 422
    assert "90" in response.text


def test_a_stats_scan_stops_at_its_row_cap_and_says_so(tables: TablesConfig) -> None:
    now = datetime.now(UTC)
    _rows(tables, [now - timedelta(minutes=minutes) for minutes in range(5)])

    capped = read_invocations(14, visible_dag_ids=every_dag, max_rows=3, config=tables)
    whole = read_invocations(14, visible_dag_ids=every_dag, max_rows=5, config=tables)

    assert (capped.rows.num_rows, capped.truncated) == (3, True)
    assert (whole.rows.num_rows, whole.truncated) == (5, False)


def test_pages_of_recent_invocations_hold_the_newest_rows_once_each_even_past_the_row_cap(
    tables: TablesConfig,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # Three rows at one instant (a page boundary falls among them), six within the first hour: a scan
    # of 3 rows at most must narrow its window to find the newest.
    times = [now - timedelta(minutes=m) for m in (0, 1, 1, 1, 3, 5, 90, 60 * 30)] + [now - timedelta(days=20)]
    request_ids = _rows(tables, times)
    newest_first = [rid for _, rid in sorted(zip(times, request_ids, strict=True), reverse=True)][:-1]

    seen, cursor, pages = [], None, 0
    while True:
        page = recent_page(14, 2, visible_dag_ids=every_dag, cursor=cursor, max_rows=3, config=tables)
        seen += [row["request_id"] for row in page["invocations"]]
        assert not page["truncated"], "no instant holds more rows than a scan may read"
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == newest_first, "newest first, each once, the one 20 days old left out"
    assert pages == 4
