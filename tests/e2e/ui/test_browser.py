"""The Lambda view in a real browser: headless Chromium logs in to a real Airflow and looks around.

A real stack (``scripts/devstack.py``: scheduler, dag-processor, triggerer, API server and the local
AWS) runs on free ports with a temporary home and DAGs folder. ``deploy_lambda_functions`` deploys
two shipped functions, then ``ui_invoke_hello`` invokes them and commits its invocation records to
``lambda_invocations``, as a pipeline does. A third, ``greeting_api``, is deployed the way ``make run``
deploys, with ``lambdapipe deploy`` (no deploy DAG task), and named by the never-run DAG
``ui_uses_greeting_api``, so the view shows it. To give the per-day charts a history, a week of earlier
rows of the same DAG is written through the tables API (run ids ``seeded__<day>``, one failed).
Screenshots go to ``test-artifacts/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)
from airflow_api import AirflowApi  # noqa: E402

from tests.support.doc_recipes import blocks  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
FUNCTIONS = ("hello_world", "hello_node")
CLI_FUNCTION = "greeting_api"  # deployed with `lambdapipe deploy`, as `make run` deploys
INVOKE_DAG = "ui_invoke_hello"
CLI_DAG = "ui_uses_greeting_api"
RUN_TIMEOUT_SECONDS = 600.0
UI_TIMEOUT_MS = 60_000
INVOKE_DAG_FILE = '''"""Invokes the deployed hello functions and records the invocations in lambda_invocations."""

from airflow.sdk import dag, task

from lambdapipe.operators.iceberg import IcebergCommitOperator
from lambdapipe.operators.lambda_invoke import INVOCATIONS_XCOM_KEY, LambdaInvokeOperator

INVOKES = {"invoke_hello_world": "hello_world", "invoke_hello_world_again": "hello_world",
           "invoke_hello_node": "hello_node"}


@dag(dag_id="ui_invoke_hello", schedule=None, catchup=False, tags=["lambdapipe"])
def ui_invoke_hello():
    invokes = [
        LambdaInvokeOperator(task_id=task_id, function_name=name, qualifier="live", payload={"task": task_id})
        for task_id, name in INVOKES.items()
    ]

    @task
    def invocation_records(ti=None) -> list[dict]:
        pulled = ti.xcom_pull(task_ids=list(INVOKES), key=INVOCATIONS_XCOM_KEY)
        return [record for records in pulled for record in records]

    records = invocation_records()
    invokes >> records
    IcebergCommitOperator(task_id="record_invocations", table_name="lambda_invocations", rows=records)


ui_invoke_hello()
'''


CLI_DAG_FILE = f'''"""Names {CLI_FUNCTION}, which the CLI deployed, so the Lambda view shows it; never run."""

from airflow.sdk import dag

from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator


@dag(dag_id="{CLI_DAG}", schedule=None, catchup=False)
def uses_greeting_api():
    LambdaInvokeOperator(task_id="greet", function_name="{CLI_FUNCTION}", qualifier="live", payload={{}})


uses_greeting_api()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_home(home: Path) -> devstack.Settings:
    """A DAGs folder with the deploy DAG and ``ui_invoke_hello``, and a functions folder of two."""
    dags, functions = home / "dags", home / "lambda_functions"
    dags.mkdir(parents=True)
    shutil.copy(REPO / "dags" / "deploy_lambda_functions.py", dags)
    (dags / f"{INVOKE_DAG}.py").write_text(INVOKE_DAG_FILE)
    (dags / f"{CLI_DAG}.py").write_text(CLI_DAG_FILE)
    # Outside the deploy DAG's folder: only the CLI deploys it.
    shutil.copytree(REPO / "lambda_functions" / CLI_FUNCTION, home / "cli_functions" / CLI_FUNCTION)
    for name in FUNCTIONS:
        shutil.copytree(REPO / "lambda_functions" / name, functions / name)
    # Every component deploys from the copied functions folder.
    extra = (("LAMBDAPIPE_FUNCTIONS_DIR", str(functions)),)
    return devstack.Settings(
        home=home, api_port=_free_port(), aws_port=_free_port(), dags_folder=dags, extra_environment=extra
    )


def run_dag(api: AirflowApi, dag_id: str) -> str:
    api.unpause(dag_id)
    run_id = api.trigger(dag_id)
    run = api.wait_for_run(dag_id, run_id, RUN_TIMEOUT_SECONDS)
    assert run["state"] == "success", f"{dag_id} run {run_id} ended {run['state']}"
    return run_id


def deploy_with_the_cli(settings: devstack.Settings, name: str) -> None:
    """``lambdapipe deploy`` against the stack's AWS, as ``make run`` deploys: no deploy DAG run."""
    cli = Path(sys.executable).parent / "lambdapipe"
    folder = settings.home / "cli_functions" / name
    subprocess.run(
        [str(cli), "deploy", str(folder)], env=devstack.stack_environment(settings), check=True, timeout=300
    )


def seed_history(settings: devstack.Settings, days: int = 7) -> None:
    """Earlier days of ``ui_invoke_hello`` (one failed invocation), written through the tables API."""
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.config import TablesConfig
    from lambdapipe.tables.conform import rows_to_arrow
    from lambdapipe.tables.writer import commit_run

    config = TablesConfig(
        catalog_uri=f"sqlite:///{settings.home / 'lambdapipe' / 'catalog.db'}",
        aws_conn_id=None,  # the AWS_* variables below
    )
    table = ensure_table("lambda_invocations", config)
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        run_id = f"seeded__{day.date().isoformat()}"
        rows = [
            {
                "function_name": function,
                "qualifier": "live",
                "executed_version": "1",
                "request_id": f"{run_id}-{index}",
                "status": "function_error" if (back, index) == (3, 0) else "success",
                "error_type": "Runtime.HandlerError" if (back, index) == (3, 0) else None,
                "duration_ms": 40.0 + 9 * back + 25 * index,
                "billed_duration_ms": 50.0 + 10 * back + 25 * index,
                "init_duration_ms": 180.0 if index == 0 else None,
                "memory_size_mb": 128,
                "max_memory_used_mb": 60,
                "cost_usd": 0.0000002 + (50 + 10 * back + 25 * index) / 1000 * 0.125 * 0.0000166667,
                "task_id": f"invoke_{function}",
                "try_number": 1,
                "invoked_at": day + timedelta(minutes=index),
            }
            for index, function in enumerate(FUNCTIONS)
        ]
        commit_run(table, rows_to_arrow(rows), {"dag_id": INVOKE_DAG, "run_id": run_id})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = prepare_home(tmp_path_factory.mktemp("ui-e2e"))
    with pytest.MonkeyPatch.context() as patch, devstack.running_stack(settings):
        api = AirflowApi(settings)
        api.wait_for_dags({"deploy_lambda_functions", INVOKE_DAG, CLI_DAG}, timeout=180)
        deploy_with_the_cli(settings, CLI_FUNCTION)
        run_dag(api, "deploy_lambda_functions")
        run_id = run_dag(api, INVOKE_DAG)
        for name, value in settings.environment().items():
            if name.startswith("AWS_"):
                patch.setenv(name, value)
        seed_history(settings)
        yield {"settings": settings, "api": api, "run_id": run_id}


@pytest.fixture(scope="module")
def browser_page(stack: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as make test does"
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100}, base_url=stack["settings"].api_url)
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto("/auth/login")
        page.fill("input[name='username']", devstack.USERNAME)
        page.fill("input[name='password']", devstack.PASSWORD)
        page.click("button[type='submit']")
        page.wait_for_url(lambda url: "/auth/login" not in url)
        try:
            yield page
        finally:
            browser.close()


def _screenshot(page: Any, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_the_dag_list_shows_the_deploy_and_invoke_dags(browser_page: Any) -> None:
    browser_page.goto("/dags")

    for dag_id in ("deploy_lambda_functions", INVOKE_DAG):
        browser_page.get_by_text(dag_id, exact=True).first.wait_for()
    _screenshot(browser_page, "01-dag-list")


def test_the_invoke_tasks_extra_link_opens_the_request_log_lines_in_the_lambda_view(
    browser_page: Any, stack: dict[str, Any]
) -> None:
    api, run_id = stack["api"], stack["run_id"]
    links_path = f"/dags/{INVOKE_DAG}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/invoke_hello_world/links"
    logs_href = api.get(links_path)["extra_links"]["Lambda Invocation Logs"]
    request_id = urllib.parse.parse_qs(urllib.parse.urlsplit(logs_href).query)["request_id"][0]

    browser_page.goto(
        f"/dags/{INVOKE_DAG}/runs/{urllib.parse.quote(run_id, safe='')}/tasks/invoke_hello_world/details"
    )
    link = browser_page.get_by_role("link", name="Lambda Invocation Logs")
    link.wait_for()
    assert link.get_attribute("href") == f"/lambdapipe/functions/hello_world?request_id={request_id}"
    assert browser_page.get_by_role("link", name="Lambda Function").get_attribute("href") == (
        "/lambdapipe/functions/hello_world"
    )
    _screenshot(browser_page, "02-task-extra-links")

    link.click()
    browser_page.wait_for_url(f"**/plugin/lambda/lambdapipe/functions/hello_world?request_id={request_id}")
    view = browser_page.frame_locator("iframe[title='Lambda']")
    lines = view.locator("[data-testid='log-lines'] .line")
    lines.first.wait_for()
    messages = lines.all_inner_texts()
    assert f"START RequestId: {request_id}" in messages[0]
    assert any("Saying hello" in message for message in messages), "the handler's own log line"
    assert f"REPORT RequestId: {request_id}" in messages[-1]
    _screenshot(browser_page, "03-request-log-lines")


def test_the_lambda_view_renders_functions_charts_and_invocations(browser_page: Any) -> None:
    browser_page.goto("/plugin/lambda")
    view = browser_page.frame_locator("iframe[title='Lambda']")

    view.locator("[data-testid='cost-chart'] canvas").wait_for()
    view.locator("[data-testid='latency-chart'] canvas").wait_for()
    view.locator("[data-testid='invocations-table'] tbody tr").first.wait_for()
    functions = view.locator("[data-testid='functions-table'] tbody tr").all_inner_texts()
    invocations = view.locator("[data-testid='invocations-table'] tbody tr").all_inner_texts()
    per_dag = view.locator("[data-testid='per-dag-table'] tbody tr").all_inner_texts()
    errors = view.locator("[data-testid='errors-table'] tbody tr").all_inner_texts()
    legend = view.locator("[data-testid='cost-chart'] .u-legend").inner_text()
    _screenshot(browser_page, "04-lambda-view")
    view.locator("[data-testid='invocations']").scroll_into_view_if_needed()
    _screenshot(browser_page, "05-lambda-view-invocations")

    assert [row.split("\t")[0] for row in functions] == [CLI_FUNCTION, "hello_node", "hello_world"]
    assert all("live → v1" in row for row in functions)
    assert all("success" in row for row in functions[1:]), (
        "each DAG-deployed function's deploy task succeeded"
    )
    assert len(invocations) == 3 + 2 * 7, "three real invocations and a seeded week"
    assert [row.split("\t")[0] for row in per_dag] == [INVOKE_DAG]
    assert "17" in per_dag[0].split("\t")[1]
    assert len(errors) == 1 and "Runtime.HandlerError" in errors[0]
    assert INVOKE_DAG in legend


def test_the_nav_entry_opens_the_lambda_view(browser_page: Any) -> None:
    browser_page.goto("/dags")
    browser_page.get_by_role("button", name="Browse").click()
    browser_page.get_by_role("menuitem", name="Lambda").click()

    browser_page.wait_for_url("**/plugin/lambda**")
    browser_page.frame_locator("iframe[title='Lambda']").locator("[data-testid='functions-table']").wait_for()


def test_the_dag_tab_shows_the_lambda_view_of_that_dag(browser_page: Any) -> None:
    browser_page.goto(f"/dags/{INVOKE_DAG}")
    browser_page.get_by_role("link", name="Lambda", exact=True).click()

    browser_page.wait_for_url(f"**/dags/{INVOKE_DAG}/plugin/lambda-dag")
    view = browser_page.frame_locator("iframe[title='Lambda']")
    view.locator("[data-testid='cost-chart'] canvas").wait_for()
    assert view.locator("#scope").inner_text() == f"· DAG {INVOKE_DAG}"
    assert view.locator("[data-testid='per-dag-table'] tbody tr").count() == 1
    _screenshot(browser_page, "06-dag-lambda-tab")


LAMBDA_VIEW_API = "**/lambdapipe/api/**"
NO_VALUE = "\u2013"  # the view's dash for a missing value


def test_the_lambda_view_shows_a_loading_state_until_its_data_arrives(browser_page: Any) -> None:
    held: list[Any] = []
    browser_page.route(LAMBDA_VIEW_API, lambda route: held.append(route))
    try:
        browser_page.goto("/plugin/lambda")
        view = browser_page.frame_locator("iframe[title='Lambda']")
        loading = [
            view.locator(f"[data-testid='{part}'] .loading") for part in ("functions", "cost-chart", "errors")
        ]
        for part in loading:
            part.wait_for(timeout=15_000)
        assert all(part.inner_text() == "Loading…" for part in loading)
        _screenshot(browser_page, "07-lambda-view-loading")
    finally:
        for route in held:
            route.continue_()
        browser_page.unroute(LAMBDA_VIEW_API)

    view.locator("[data-testid='functions-table']").wait_for()
    view.locator("[data-testid='cost-chart'] canvas").wait_for()
    assert view.locator(".loading").count() == 0


def test_the_deploy_column_shows_a_deploy_made_by_the_cli_without_a_deploy_dag_task(
    browser_page: Any,
) -> None:
    today = datetime.now(UTC).date().isoformat()
    browser_page.goto("/plugin/lambda")
    view = browser_page.frame_locator("iframe[title='Lambda']")
    rows = view.locator("[data-testid='functions-table'] tbody tr")

    cli_deploy = rows.filter(has_text=CLI_FUNCTION).locator("[data-testid='last-deploy']")
    dag_deploy = rows.filter(has_text="hello_world").locator("[data-testid='last-deploy']")

    assert re.fullmatch(rf"v1 \(live\) {today} \d\d:\d\d:\d\d", cli_deploy.inner_text(timeout=15_000))
    assert re.fullmatch(
        rf"v1 \(live\) {today} \d\d:\d\d:\d\d · success deploy_lambda_functions \u203a deploy_hello_world",
        dag_deploy.inner_text(),
    ), "the deploy DAG's task is still linked when that DAG deployed the function"
    _screenshot(browser_page, "08-lambda-view-deploys")


@pytest.fixture
def page_in_los_angeles(browser_page: Any, stack: dict[str, Any]) -> Iterator[Any]:
    """A logged-in page whose browser clock is 8 hours behind UTC, with a 12-hour (en-US) locale: a
    label made from the browser's zone or locale shows there, not in UTC's own zone."""
    context = browser_page.context.browser.new_context(
        storage_state=browser_page.context.storage_state(),
        timezone_id="America/Los_Angeles",
        locale="en-US",
        viewport={"width": 1440, "height": 1100},
        base_url=stack["settings"].api_url,
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def _hover_newest_point(chart: Any) -> dict[str, str]:
    """Put the cursor on the chart's rightmost point; the legend's values there, by series label."""
    over = chart.locator(".u-over")
    box = over.bounding_box()
    over.hover(position={"x": box["width"] - 2, "y": box["height"] / 2})
    legend = chart.locator(".u-legend .u-series")
    labels, values = (
        legend.locator(".u-label").all_inner_texts(),
        legend.locator(".u-value").all_inner_texts(),
    )
    return dict(zip(labels, values, strict=True))


def _axis_labels(chart: Any, axis: str) -> list[str]:
    """The tick labels the chart drew on one axis ("x" or "y"), as lambda.js records them beside it."""
    return (chart.get_attribute(f"data-{axis}-labels") or "").split(" | ")


def _units(labels: list[str]) -> set[str]:
    return {label.split(" ")[-1] for label in labels if label != NO_VALUE}


def test_the_per_day_charts_label_today_with_todays_utc_date_and_one_duration_unit(
    page_in_los_angeles: Any,
) -> None:
    today = datetime.now(UTC).date().isoformat()
    page_in_los_angeles.goto("/plugin/lambda")
    view = page_in_los_angeles.frame_locator("iframe[title='Lambda']")
    latency = view.locator("[data-testid='latency-chart'] .uplot")
    latency.locator("canvas").wait_for()
    cost_labels = _axis_labels(view.locator("[data-testid='cost-chart'] .uplot"), "y")

    legend = _hover_newest_point(latency)
    x_labels, y_labels = _axis_labels(latency, "x"), _axis_labels(latency, "y")
    _screenshot(page_in_los_angeles, "09-lambda-view-charts-utc")

    assert legend["UTC"] == today
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", label) for label in x_labels), x_labels
    assert max(x_labels) <= today
    assert len(_units(y_labels)) == 1 and _units(y_labels) == _units([legend[INVOKE_DAG]]), (y_labels, legend)
    assert all(re.fullmatch(r"\$\d+(\.\d+)?", label) for label in cost_labels), cost_labels


def test_the_duration_chart_ticks_whole_minutes_on_a_24_hour_utc_clock_in_one_unit(
    page_in_los_angeles: Any,
) -> None:
    today = datetime.now(UTC).date().isoformat()
    page_in_los_angeles.goto("/plugin/lambda/lambdapipe/functions/hello_world?days=1")
    view = page_in_los_angeles.frame_locator("iframe[title='Lambda']")
    durations = view.locator("[data-testid='duration-chart'] .uplot")
    durations.locator("canvas").wait_for()

    legend = _hover_newest_point(durations)
    x_labels, y_labels = _axis_labels(durations, "x"), _axis_labels(durations, "y")
    _screenshot(page_in_los_angeles, "10-function-page-chart-utc")

    assert re.fullmatch(rf"{today} \d\d:\d\d:\d\d UTC", legend["UTC"]), legend
    # A day that crosses midnight UTC shows the date too ("12-04 22:00"): still a 24-hour clock.
    assert all(re.fullmatch(r"(\d\d-\d\d )?\d\d:\d\d", label) for label in x_labels), x_labels
    values = [legend["duration"], legend["init (cold start)"]]
    assert len(_units(y_labels + values)) == 1, (y_labels, values)


def test_the_docs_rest_recipe_gets_a_token_and_the_stats(stack: dict[str, Any]) -> None:
    """docs/lambda-view.md's curl recipe as written, but for the port (8080 is `make run`'s)."""
    [recipe] = [block for block in blocks(REPO / "docs" / "lambda-view.md", "bash") if "/auth/token" in block]
    recipe = recipe.replace("127.0.0.1:8080", f"127.0.0.1:{stack['settings'].api_port}")

    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", recipe], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["days"] == 7
    assert stats["invocations"] > 0, "the invoke DAG's run and the seeded history are counted"
    assert {"per_dag", "per_day", "truncated"} <= set(stats)


def test_the_function_page_shows_a_canary_in_progress_its_split_and_its_steps(browser_page: Any) -> None:
    """A Canary10Percent5Minutes shift begun on the CLI's function (by the deploy's own TrafficShift):
    the page shows the alias's split and the deployment the alias records; the alias is put back."""
    import boto3

    from lambdapipe.deploy.traffic_shift import TrafficShift
    from lambdapipe.hooks.lambda_function import LambdaHook
    from lambdapipe.packaging.deployment_settings import DeploymentSettings

    client = boto3.client("lambda")
    client.update_function_configuration(FunctionName=CLI_FUNCTION, Description="canary under test")
    client.get_waiter("function_updated_v2").wait(FunctionName=CLI_FUNCTION)
    canary = client.publish_version(FunctionName=CLI_FUNCTION)["Version"]
    shift = TrafficShift(LambdaHook(aws_conn_id=None), boto3.client("cloudwatch"), CLI_FUNCTION)
    shift.begin(DeploymentSettings(type="Canary10Percent5Minutes"), "live", "1", canary)
    try:
        browser_page.goto(f"/plugin/lambda/lambdapipe/functions/{CLI_FUNCTION}")
        view = browser_page.frame_locator("iframe[title='Lambda']")
        configuration = view.locator("[data-testid='configuration']")
        deployments = configuration.locator("[data-testid='deployments']")
        deployments.wait_for()
        _screenshot(browser_page, "11-function-page-canary")

        assert f"live → v1 90%, v{canary} 10%" in configuration.inner_text()
        assert deployments.inner_text() == (
            f"live: v1 -> v{canary} Canary10Percent5Minutes (10% for 5m, then 100%): 10% on v{canary}"
        )
    finally:
        client.update_alias(
            FunctionName=CLI_FUNCTION,
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {}},
            Description="",
        )
