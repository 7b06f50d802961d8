"""The Lambda view's routes: Airflow's login guards every one, and each shows what Lambda, CloudWatch
Logs and the ``lambda_invocations`` table hold."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.routing import Mount

from lambdapipe.links import LambdaFunctionLink, LambdaInvocationLogsLink
from lambdapipe.packaging.lambda_api import MANAGED_TAG, MANAGED_TAG_VALUE
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.conform import rows_to_arrow
from lambdapipe.tables.writer import append_rows
from lambdapipe.ui import URL_PREFIX
from lambdapipe.ui.invocations import read_invocations
from lambdapipe_local import LocalAws
from tests.support.dags_in_db import register_invoking_dag

HANDLER = """
def handler(event, context):
    print(f"greeting {event['name']}")
    print("second line of", event["name"])
    return {"hello": event["name"]}
"""
ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def _mounted_paths(client: Any) -> list[str]:
    """Every route of our app as Airflow mounted it, with path parameters filled in."""
    [mount] = [r for r in client.app.routes if isinstance(r, Mount) and r.path == URL_PREFIX]
    paths = [route.path for route in mount.app.routes]
    return [re.sub(r"\{file_path:path\}", "lambda.js", re.sub(r"\{name\}", "etl", p)) for p in paths]


def test_every_route_of_the_app_answers_401_without_a_login(client: Any) -> None:
    paths = _mounted_paths(client)

    answers = {
        path: client.get(f"{URL_PREFIX}{path}", params={"request_id": "r"}).status_code for path in paths
    }

    assert len(paths) >= 8, paths
    assert answers == dict.fromkeys(paths, 401)


def test_the_ui_cookie_logs_in_like_a_bearer_token(client: Any, admin_token: str, connections: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(client.app, cookies={"_token": admin_token}) as browser:
        page = browser.get(f"{URL_PREFIX}/")
        script = browser.get(f"{URL_PREFIX}/static/vendor/uplot/uPlot.iife.min.js")

    assert page.status_code == 200 and 'data-page="overview"' in page.text
    assert script.status_code == 200 and len(script.content) > 40_000


def test_static_files_outside_the_static_folder_are_not_served(client: Any, auth: dict[str, str]) -> None:
    response = client.get(f"{URL_PREFIX}/static/%2e%2e/app.py", headers=auth)

    assert response.status_code == 404


def test_without_a_lambda_invocations_table_stats_and_invocations_are_empty(
    client: Any, auth: dict[str, str], connections: TablesConfig
) -> None:
    stats = client.get(f"{URL_PREFIX}/api/stats", headers=auth)
    recent = client.get(f"{URL_PREFIX}/api/invocations", params={"errors": True}, headers=auth)

    assert stats.status_code == 200, stats.text
    assert stats.json() == {"days": 14, "invocations": 0, "truncated": False, "per_dag": [], "per_day": []}
    assert recent.json() == {"days": 14, "invocations": [], "next_cursor": None, "truncated": False}


def _row(dag_id: str | None, at: datetime, ms: float, cost: float, **extra: Any) -> dict[str, Any]:
    return {
        "function_name": "etl",
        "request_id": f"req-{at.isoformat()}-{ms}",
        "status": "success",
        "duration_ms": ms,
        "billed_duration_ms": ms,
        "memory_size_mb": 128,
        "max_memory_used_mb": 40,
        "cost_usd": cost,
        "dag_id": dag_id,
        "run_id": "manual__1" if dag_id else None,
        "task_id": "invoke" if dag_id else None,
        "invoked_at": at,
        **extra,
    }


@pytest.fixture
def invocations(connections: TablesConfig) -> dict[str, datetime]:
    """Five invocations over two days: orders (one failed, one cold), uploads, and one outside Airflow."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    yesterday = today - timedelta(days=1)
    rows = [
        _row("orders", yesterday, 100.0, 0.001),
        _row(
            "orders", yesterday + timedelta(minutes=1), 300.0, 0.003, status="function_error", error_type="E"
        ),
        _row("orders", today, 200.0, 0.002, init_duration_ms=50.0),
        _row("uploads", today + timedelta(minutes=1), 50.0, 0.0005),
        _row(None, today + timedelta(minutes=2), 10.0, 0.0001),
        _row("orders", today - timedelta(days=30), 999.0, 9.0),  # outside the default 14 days
    ]
    append_rows(ensure_table("lambda_invocations", connections), rows_to_arrow(rows))
    return {"today": today, "yesterday": yesterday}


def test_stats_give_cost_and_latency_per_dag_and_per_day(
    client: Any, auth: dict[str, str], invocations: dict[str, datetime]
) -> None:
    stats = client.get(f"{URL_PREFIX}/api/stats", headers=auth).json()

    today, yesterday = (invocations[key].date().isoformat() for key in ("today", "yesterday"))
    per_dag = {row["dag_id"]: row for row in stats["per_dag"]}
    assert stats["invocations"] == 5
    assert [row["dag_id"] for row in stats["per_dag"]] == ["orders", "uploads", None], "costliest first"
    assert per_dag["orders"] == pytest.approx(
        {
            "dag_id": "orders",
            "invocations": 3,
            "errors": 1,
            "cold_starts": 1,
            "cost_usd": 0.006,
            "billed_ms": 600.0,
            "avg_ms": 200.0,
            "p95_ms": per_dag["orders"]["p95_ms"],
            "max_ms": 300.0,
        }
    )
    assert 200.0 < per_dag["orders"]["p95_ms"] <= 300.0
    assert [(row["day"], row["dag_id"], row["invocations"]) for row in stats["per_day"]] == [
        (yesterday, "orders", 2),
        (today, None, 1),
        (today, "orders", 1),
        (today, "uploads", 1),
    ]
    assert stats["per_day"][0]["cost_usd"] == pytest.approx(0.004)


def test_recent_invocations_come_newest_first_and_errors_only_on_request(
    client: Any, auth: dict[str, str], invocations: dict[str, datetime]
) -> None:
    recent = client.get(f"{URL_PREFIX}/api/invocations", params={"limit": 3}, headers=auth).json()
    errors = client.get(f"{URL_PREFIX}/api/invocations", params={"errors": True}, headers=auth).json()
    one_dag = client.get(f"{URL_PREFIX}/api/invocations", params={"dag_id": "uploads"}, headers=auth).json()

    assert [row["duration_ms"] for row in recent["invocations"]] == [10.0, 50.0, 200.0]
    assert [(row["status"], row["error_type"]) for row in errors["invocations"]] == [("function_error", "E")]
    assert [row["dag_id"] for row in one_dag["invocations"]] == ["uploads"]


def test_rows_of_dags_the_user_may_not_read_are_left_out(invocations: dict[str, datetime]) -> None:
    asked: list[set[str]] = []

    def only_uploads(dag_ids: set[str]) -> set[str]:
        asked.append(dag_ids)
        return dag_ids & {"uploads"}

    rows = read_invocations(14, visible_dag_ids=only_uploads).rows.to_pylist()

    assert asked == [{"orders", "uploads"}]
    assert sorted((row["dag_id"] or "") for row in rows) == ["", "uploads"], "rows outside Airflow stay"


@pytest.fixture
def greeter(connections: TablesConfig, local_aws: LocalAws) -> str:
    """A function lambdapipe manages, used by the DAG ``greets``, with a published version behind the
    alias ``live``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    role = local_aws.client("iam").create_role(RoleName="ui-tests", AssumeRolePolicyDocument=ASSUME_ROLE)
    lambda_client = local_aws.client("lambda")
    lambda_client.create_function(
        FunctionName="greeter",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        MemorySize=256,
        Tags={MANAGED_TAG: MANAGED_TAG_VALUE},
    )
    register_invoking_dag("greets", "greeter")
    version = lambda_client.publish_version(FunctionName="greeter")["Version"]
    lambda_client.create_alias(FunctionName="greeter", Name="live", FunctionVersion=version)
    return "greeter"


def test_functions_list_deployed_functions_with_alias_version_and_code_sha(
    client: Any, auth: dict[str, str], greeter: str, local_aws: LocalAws
) -> None:
    expected_sha = local_aws.client("lambda").get_function_configuration(FunctionName=greeter)["CodeSha256"]

    response = client.get(f"{URL_PREFIX}/api/functions", headers=auth)

    assert response.status_code == 200, response.text
    [function] = response.json()["functions"]
    assert (function["name"], function["runtime"], function["memory_mb"]) == (greeter, "python3.11", 256)
    assert function["code_sha256"] == expected_sha and function["last_modified"]
    assert function["dag_ids"] == ["greets"]
    assert function["aliases"] == [
        {
            "name": "live",
            "version": "1",
            "code_sha256": expected_sha,
            "last_modified": function["aliases"][0]["last_modified"],
            "weights": {"1": 100.0},
            "deployment": None,
        }
    ]
    assert response.json()["deploy_dag_id"] == "deploy_lambda_functions"


def test_an_alias_mid_deployment_shows_its_traffic_split_and_the_deployment_it_records(
    client: Any, auth: dict[str, str], greeter: str, local_aws: LocalAws
) -> None:
    lambda_client = local_aws.client("lambda")
    lambda_client.update_function_configuration(FunctionName=greeter, MemorySize=512)
    lambda_client.publish_version(FunctionName=greeter)
    lambda_client.update_alias(
        FunctionName=greeter,
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
        Description="lambdapipe deployment: v1 -> v2 Canary10Percent5Minutes (10% for 5m, then 100%): 10% on v2",
    )

    response = client.get(f"{URL_PREFIX}/api/functions/{greeter}", headers=auth)

    assert response.status_code == 200, response.text
    [alias] = response.json()["aliases"]
    assert alias["weights"] == {"1": 90.0, "2": 10.0}
    assert alias["deployment"] == "v1 -> v2 Canary10Percent5Minutes (10% for 5m, then 100%): 10% on v2"


def test_a_function_deployed_without_the_deploy_dag_shows_the_deploy_lambda_records(
    client: Any, auth: dict[str, str], greeter: str, local_aws: LocalAws
) -> None:
    version = local_aws.client("lambda").get_function_configuration(FunctionName=greeter, Qualifier="1")

    response = client.get(f"{URL_PREFIX}/api/functions", headers=auth)

    assert response.status_code == 200, response.text
    body = response.json()
    [function] = body["functions"]
    deployed = function["last_deploy"]
    assert (deployed["version"], deployed["aliases"], deployed["code_sha256"]) == (
        "1",
        ["live"],
        version["CodeSha256"],
    )
    at = datetime.fromisoformat(deployed["deployed_at"])
    assert at.tzinfo is not None and abs(datetime.now(UTC) - at) < timedelta(minutes=5)
    assert deployed["task"] is None, "no deploy DAG task deployed it (whether that DAG ever ran or not)"


def test_a_request_log_lines_come_from_cloudwatch_logs_without_the_other_requests(
    client: Any, auth: dict[str, str], greeter: str, local_aws: LocalAws
) -> None:
    lambda_client = local_aws.client("lambda")
    first = lambda_client.invoke(FunctionName=greeter, Payload=json.dumps({"name": "ada"}))
    lambda_client.invoke(FunctionName=greeter, Payload=json.dumps({"name": "grace"}))
    request_id = first["ResponseMetadata"]["RequestId"]

    response = client.get(
        f"{URL_PREFIX}/api/functions/{greeter}/logs", params={"request_id": request_id}, headers=auth
    )

    assert response.status_code == 200, response.text
    body = response.json()
    messages = [line["message"] for line in body["lines"]]
    assert body["log_group"] == "/aws/lambda/greeter" and body["complete"]
    assert messages[0].startswith(f"START RequestId: {request_id}")
    assert "greeting ada" in messages and "second line of ada" in messages
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}")
    assert not any("grace" in message for message in messages)


def test_an_unknown_request_id_has_no_log_lines(client: Any, auth: dict[str, str], greeter: str) -> None:
    response = client.get(
        f"{URL_PREFIX}/api/functions/{greeter}/logs", params={"request_id": "no-such-request"}, headers=auth
    )

    assert response.status_code == 200
    assert response.json()["lines"] == []


def test_an_unknown_function_is_a_404_naming_it(client: Any, auth: dict[str, str], connections: Any) -> None:
    response = client.get(f"{URL_PREFIX}/api/functions/nope", headers=auth)

    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"]


def test_the_operators_local_extra_links_open_pages_the_app_serves(client: Any, auth: dict[str, str]) -> None:
    function_link = LambdaFunctionLink().format_link(function_name="greeter", local=True)
    logs_link = LambdaInvocationLogsLink().format_link(function_name="greeter", request_id="r-1", local=True)

    pages = [client.get(link, headers=auth) for link in (function_link, logs_link)]

    assert [page.status_code for page in pages] == [200, 200]
    assert all('data-page="function"' in page.text for page in pages)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/functions/greeter/logs", {"request_id": 'x" ?ERROR ?"'}),  # a filter pattern of its own
        ("/api/functions/greeter/logs", {"request_id": "a" * 65}),
        ("/api/functions/bad name/logs", {"request_id": "abc"}),
        ("/api/functions/greeter.x", {}),
    ],
)
def test_a_name_or_request_id_outside_lambdas_alphabet_is_refused_before_any_aws_call(
    client: Any, auth: dict[str, str], connections: Any, local_aws: LocalAws, path: str, params: dict
) -> None:
    local_aws.calls.reset()

    response = client.get(f"{URL_PREFIX}{path}", params=params, headers=auth)

    assert response.status_code == 422, response.text
    assert local_aws.calls.snapshot().calls == {}


@pytest.mark.timeout(120)  # botocore's defaults would hold the request for five minutes
def test_a_stalled_aws_endpoint_fails_the_page_with_502_after_two_attempts(
    client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.aws_setup import use_aws_default_connection

    register_invoking_dag("greets", "greeter")
    accepted: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: _accept_forever(listener, accepted), daemon=True).start()
    use_aws_default_connection(f"http://127.0.0.1:{listener.getsockname()[1]}", monkeypatch)
    try:
        response = client.get(f"{URL_PREFIX}/api/functions/greeter", headers=auth)
    finally:
        listener.close()
        for connection in accepted:
            connection.close()

    assert response.status_code == 502, response.text
    assert "Read timeout" in response.json()["detail"]
    assert len(accepted) == 2  # botocore's defaults make 5 attempts of 60 s each


def _accept_forever(listener: socket.socket, accepted: list[socket.socket]) -> None:
    """Take connections and never answer: an endpoint that hangs."""
    while True:
        try:
            accepted.append(listener.accept()[0])
        except OSError:
            return
