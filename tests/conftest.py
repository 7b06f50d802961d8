"""Shared test set-up: every test (and every subprocess it starts) uses a throwaway AIRFLOW_HOME.

The environment is set when pytest imports this file, before any test module imports Airflow:
Airflow reads its configuration once, at import, and would otherwise create airflow.cfg and a
metadata database in ~/airflow or in the developer's .airflow/.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lambdapipe.deploy.deployer import DeployResult
    from lambdapipe_local import LocalAws

REPO_ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.support.orphans"]  # the session fails if it leaves a process behind

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lambdapipe-test-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    """Hand out xdist groups in collection order, longest first (LONGEST_GROUPS): by default xdist
    sorts them by their number of tests, which put the one-test, four-minute groups last and left
    one worker running them alone for minutes at the end (the controller reads this option)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, in one line, when something the suite needs outside Python is missing."""
    from tests.support.prerequisites import missing_prerequisites

    missing = missing_prerequisites()
    if missing:
        pytest.exit(
            f"missing test prerequisites: {'; '.join(missing)} (make test sets them up)", returncode=4
        )


TIERS = ("unit", "integration", "e2e")  # pure code; the local AWS stack; Airflow's own processes
# Folders whose files share nothing (each test starts its own stack): one group per file there.
FILE_GROUPS = ("e2e/platform", "e2e/processes")
# The longest groups (most start whole Airflow stacks), longest first, as measured by a full run's
# --junitxml: xdist hands out groups in collection order (see pytest_configure), two to each worker
# at the start and one more whenever a worker is nearly done, so these run early instead of
# together at the end.
LONGEST_GROUPS = (
    "e2e/test_devstack",  # three starts and two demos: about 6 min alone
    "e2e/pipelines",  # a dozen DAG runs, three in-process stacks
    "e2e/platform/test_chaos",
    "e2e/test_compatibility",  # builds the wheel and a clean environment
    "e2e/test_benchmark_scripts",  # event_latency.py starts a whole stack
    "e2e/test_uploads_recipes",
    "e2e/platform/test_celery",
    "e2e/test_orders_recipe",
    "e2e/test_fidelity",  # moto's aws_verified and server-mode suites: about 2 min alone
    "e2e/platform/test_history_benchmark",
    "e2e/ui",
    "integration/invocation",
    "e2e/test_docs",
    "integration/ui",
    "e2e/processes/test_no_orphans",
    "integration/deploy",
)


# Fixtures that reach a server, AWS or Airflow's database: a unit test asking for one is misfiled.
NOT_UNIT_FIXTURES = frozenset(
    {"local_aws_server", "aws", "aws_environment", "aws_connection", "lambda_client", "deploy", "airflow_db"}
)


def _tier(item: pytest.Item) -> str:
    """unit, integration or e2e: the first folder under tests/."""
    return Path(item.path).relative_to(REPO_ROOT / "tests").parts[0]


def _misfiled(item: pytest.Item) -> str | None:
    """Why the test is in the wrong place: outside the tiers, or a unit test asking for a stack."""
    tier = _tier(item)
    if tier not in TIERS:
        return f"{item.nodeid}: a test lives in one of tests/{{{','.join(TIERS)}}}/"
    stack_fixtures = NOT_UNIT_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if tier == "unit" and stack_fixtures:
        return f"{item.nodeid} uses {sorted(stack_fixtures)}: it belongs in tests/integration/"
    return None


def _stop(message: str) -> None:
    """End the session in one line (a worker's exit reaches the controller only as an INTERNALERROR)."""
    print(message, file=sys.__stderr__)
    pytest.exit(message, returncode=4)


def _xdist_group(item: pytest.Item) -> str:
    """The tier and the test's folder there, its file there for FILE_GROUPS, its file at the tier's top."""
    relative = Path(item.path).relative_to(REPO_ROOT / "tests").with_suffix("")
    folder = "/".join(relative.parts[:2])
    if len(relative.parts) == 2 or folder in FILE_GROUPS:
        return relative.as_posix()
    return folder


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (``-m unit``, ``-m "not e2e"``), and under pytest-xdist
    (``--dist loadgroup``) put it in one group per folder (see ``_xdist_group``).

    moto keeps its state per process, so every in-process local stack of a worker shares it: a
    folder's session-scoped stack must not see another folder's ``aws.reset()`` between its tests.
    """
    misfiled = [reason for reason in map(_misfiled, items) if reason]
    if misfiled:
        _stop("misfiled tests: " + "; ".join(misfiled))
    for item in items:
        item.add_marker(getattr(pytest.mark, _tier(item)))
        item.add_marker(pytest.mark.xdist_group(_xdist_group(item)))
    rank = {group: position for position, group in enumerate(LONGEST_GROUPS)}
    items.sort(key=lambda item: rank.get(_xdist_group(item), len(rank)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop a worker whose xdist ignored the groups: its tests would share moto state unpredictably."""
    if not session.config.getoption("loadgroup", False) or not session.items:
        return
    if not session.items[0].nodeid.endswith(f"@{_xdist_group(session.items[0])}"):
        _stop("pytest-xdist ignores --dist loadgroup with this pytest (pytest-xdist#1386): make install")


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def library_log_level_restored() -> Iterator[None]:
    """The lambdapipe CLI quiets Airflow through the environment, as a command's process may; a test
    that runs it in-process must not pass that on to the later tests of its worker and the
    processes they start (they logged nothing below ERROR)."""
    name = "AIRFLOW__LOGGING__LOGGING_LEVEL"
    before = os.environ.get(name)
    yield
    if before is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = before


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout the tests run against."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata tables in the session's throwaway AIRFLOW_HOME."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    """One in-process local AWS stack for the deploy, invocation and local-stack tests.

    Async retries are fast (0.2 s, 0.4 s) so destination tests finish quickly; Node.js handlers find
    the AWS SDK that ``make install`` put in .local/node-sdk.
    """
    from lambdapipe_local import LocalAws

    sdk = os.environ.get("LAMBDAPIPE_NODE_SDK_DIR") or REPO_ROOT / ".local" / "node-sdk"
    with LocalAws(
        async_retry_delays_s=(0.2, 0.4), idle_timeout_s=60, node_sdk_dir=sdk, check_signatures=True
    ) as aws:
        yield aws


@pytest.fixture
def aws(local_aws_server: LocalAws) -> LocalAws:
    """A clean stack: no resources, no warm environments, no faults, zero call counts."""
    local_aws_server.reset()
    return local_aws_server


@pytest.fixture
def aws_connection(aws: LocalAws, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """``aws_default`` pointing at the local stack and no other way to reach AWS."""
    from tests.support.aws_setup import use_aws_default_connection

    return use_aws_default_connection(aws.endpoint_url, monkeypatch)


@pytest.fixture
def lambda_client(aws: LocalAws) -> Any:
    """A Lambda client configured like our operators: no retries, a read timeout above the functions'."""
    from botocore.config import Config

    return aws.client("lambda", config=Config(retries={"max_attempts": 0}, read_timeout=120))


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
    from lambdapipe.deploy.deployer import FunctionDeployer
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
