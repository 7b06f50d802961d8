"""docker-compose.yaml and the Dockerfile agree with the dev stack and the docs (validated, not run here).

No Docker engine runs on the development machines, so the compose stack is checked statically: every
service can start (image or build, command, healthcheck, dependencies on services that exist and
report ready), the Airflow services share the settings ``scripts/devstack.py`` gives every component
for the CeleryExecutor, under the same variable names, pointing at the compose services (Postgres,
Redis, local AWS, api-server), every documented setting is set, and host ports are loopback only.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)

# Differ by design between one host and containers: the dev stack picks free log-server ports, and
# secrets it leaves to the shared airflow.cfg must be the same in every container (set explicitly).
SHARED_SECRETS = {"AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"}
# A markdown table row documenting a setting: its first cell is the variable name in backticks.
DOCUMENTED_SETTING = re.compile(r"^\|\s*`((?:AIRFLOW|AWS|LAMBDAPIPE)_[A-Z0-9_]+)`", re.MULTILINE)
ONE_SHOT = "service_completed_successfully"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services running an ``airflow`` command (the init job, api-server, scheduler, ... workers)."""
    return {name: spec for name, spec in services.items() if _command(spec)[:1] == ["airflow"]}


@pytest.fixture(scope="module")
def airflow_env(airflow_services: dict[str, dict[str, Any]]) -> dict[str, str]:
    environments = [spec["environment"] for spec in airflow_services.values()]
    assert all(environment == environments[0] for environment in environments), (
        "Airflow services' env differs"
    )
    return environments[0]


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services others wait to *complete*: jobs that exit, so they have no healthcheck."""
    return {
        dependency
        for spec in services.values()
        for dependency, condition in _depends_on(spec).items()
        if condition == ONE_SHOT
    }


def test_every_service_has_an_image_a_command_and_a_readiness_signal(services: dict) -> None:
    one_shot = one_shot_services(services)
    for name, spec in services.items():
        assert "image" in spec or "build" in spec, f"{name}: neither image nor build"
        if name in one_shot:
            assert "healthcheck" not in spec and spec.get("restart") == "no", f"{name}: a job, not a server"
        else:
            assert spec.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    for name in ("local-aws", "redis", *one_shot):
        assert _command(services[name]), f"{name}: no command"


def test_dependencies_exist_and_wait_for_ready_or_completed(services: dict) -> None:
    one_shot = one_shot_services(services)
    for name, spec in services.items():
        for dependency, condition in _depends_on(spec).items():
            assert dependency in services, f"{name} depends on unknown service {dependency!r}"
            expected = ONE_SHOT if dependency in one_shot else "service_healthy"
            assert condition == expected, f"{name} -> {dependency}: condition {condition!r}, not {expected!r}"


def test_airflow_services_wait_for_the_database_broker_local_aws_and_its_resources(
    airflow_services: dict, services: dict
) -> None:
    [migration] = [
        name for name, spec in airflow_services.items() if _command(spec)[1:3] == ["db", "migrate"]
    ]
    [resources] = [  # the pipelines' buckets, queues, topics and functions on the local AWS
        name
        for name, spec in services.items()
        if any(word.endswith("include/demo_infrastructure.py") for word in _command(spec))
    ]
    assert set(_depends_on(services[migration])) == {"postgres"}
    assert set(_depends_on(services[resources])) == {"local-aws"}
    for name, spec in airflow_services.items():
        if name != migration:
            expected = {"postgres", "redis", "local-aws", migration, resources}
            assert set(_depends_on(spec)) >= expected, f"{name} does not wait for {expected}"
    workers = [name for name, spec in airflow_services.items() if _command(spec)[1:3] == ["celery", "worker"]]
    assert workers == ["worker"]
    assert "api-server" in _depends_on(services["worker"]), "tasks call the api-server's Execution API"


def test_compose_runs_every_component_the_dev_stack_runs(airflow_services: dict, services: dict) -> None:
    settings = _celery_settings()
    wanted = {
        tuple(_airflow_subcommand(c.argv)) for c in devstack.components(settings) if "airflow" in c.argv[0]
    }
    in_compose = {tuple(_airflow_subcommand(_command(spec))) for spec in airflow_services.values()}
    assert wanted <= in_compose, f"missing from compose: {wanted - in_compose}"
    assert _command(services["local-aws"])[:2] == ["lambdapipe", "local"]


def test_airflow_env_uses_the_dev_stack_names_plus_the_shared_secrets(airflow_env: dict) -> None:
    devstack_names = set(_celery_settings().environment())
    assert devstack_names <= set(airflow_env), f"missing: {sorted(devstack_names - set(airflow_env))}"
    assert set(airflow_env) - devstack_names == SHARED_SECRETS
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_airflow_env_points_at_the_compose_services(airflow_env: dict, services: dict) -> None:
    database = urlparse(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    postgres_env = services["postgres"]["environment"]
    assert (database.hostname, database.username, database.password, database.path) == (
        "postgres",
        postgres_env["POSTGRES_USER"],
        postgres_env["POSTGRES_PASSWORD"],
        f"/{postgres_env['POSTGRES_DB']}",
    )
    assert (
        airflow_env["AIRFLOW__CELERY__RESULT_BACKEND"]
        == "db+" + airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )
    assert (
        airflow_env["AIRFLOW__LAMBDAPIPE__TABLES_CATALOG_URI"]
        == airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )
    assert urlparse(airflow_env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"

    local_aws = _command(services["local-aws"])
    endpoint = f"http://local-aws:{_option(local_aws, '--port')}"
    assert _option(local_aws, "--host") == "0.0.0.0", "other containers must reach it"
    assert _option(local_aws, "--allow-host") == "local-aws", "the stack refuses Host names it was not given"
    assert airflow_env["AWS_ENDPOINT_URL"] == endpoint
    assert json.loads(airflow_env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == endpoint

    api_port = airflow_env["AIRFLOW__API__PORT"]
    assert (
        airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://api-server:{api_port}/execution/"
    )
    assert airflow_env["AIRFLOW__API__HOST"] == "0.0.0.0", "workers must reach the Execution API"


def test_api_server_gets_the_password_file_the_env_names(
    airflow_env: dict, compose: dict, services: dict
) -> None:
    [mount] = services["api-server"]["configs"]
    assert mount["target"] == airflow_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    content = compose["configs"][mount["source"]]["content"]
    users = airflow_env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert set(json.loads(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", content))) == {
        user.split(":")[0] for user in users.split(",")
    }


def test_every_documented_setting_is_set_for_airflow(airflow_env: dict) -> None:
    documented = set()
    for doc in ("docs/operations.md",):
        documented |= set(DOCUMENTED_SETTING.findall((REPO / doc).read_text()))
    assert documented, "docs/operations.md documents the settings in a table"
    assert documented <= set(airflow_env), (
        f"documented but not set in compose: {sorted(documented - set(airflow_env))}"
    )


def test_host_ports_are_published_on_loopback_only(services: dict) -> None:
    published = [(name, port) for name, spec in services.items() for port in spec.get("ports", [])]
    assert published, "the UI and the local AWS endpoint are published"
    for name, port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), (
            f"{name}: {port!r} is not loopback-only"
        )


def test_image_installs_from_the_lock_with_the_makefile_versions() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE), "the Python the tests run on"
    assert "uv sync --frozen --no-dev --extra celery --extra local" in dockerfile
    assert _assignment(dockerfile, "ARG UV_VERSION") == _assignment(makefile, "UV_VERSION :")
    assert _assignment(dockerfile, "ARG NODE_SDK_PACKAGES").strip('"') == _assignment(
        makefile, "NODE_SDK_PACKAGES :"
    )
    for folder in ("plugins", "dags", "lambda_functions", "include"):
        assert re.search(rf"^COPY .*\b{folder}/ {folder}/$", dockerfile, re.MULTILINE), (
            f"{folder}/ not copied"
        )
        assert f"!{folder}/" in (REPO / ".dockerignore").read_text(), (
            f"{folder}/ excluded from the build context"
        )


def _celery_settings() -> devstack.Settings:
    return devstack.Settings(
        executor="CeleryExecutor",
        database_url="postgresql+psycopg2://airflow:airflow@postgres:5432/airflow",
        broker_url="redis://redis:6379/0",
        tables_catalog_url="postgresql+psycopg2://airflow:airflow@postgres:5432/airflow",
    )


def _command(spec: dict[str, Any]) -> list[str]:
    command = spec.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _airflow_subcommand(argv: list[str]) -> list[str]:
    """``airflow celery worker --flag`` -> ``["celery", "worker"]``."""
    words = []
    for word in argv[1:]:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def _depends_on(spec: dict[str, Any]) -> dict[str, str]:
    depends_on = spec.get("depends_on", {})
    if isinstance(depends_on, list):  # the short form waits for nothing but the start
        return dict.fromkeys(depends_on, "service_started")
    return {name: options.get("condition", "service_started") for name, options in depends_on.items()}


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _assignment(text: str, prefix: str) -> str:
    match = re.search(rf"^{re.escape(prefix)}=\s*(.+)$", text, re.MULTILINE)
    assert match, f"no {prefix}= line"
    return match.group(1).strip()
