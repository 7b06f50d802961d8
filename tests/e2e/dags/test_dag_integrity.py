"""Every DAG in dags/ imports cleanly, makes no network call while parsed, and follows our conventions.

Conventions: tags and a description (so the UI can be searched and read), an owner other than
Airflow's default, and retries >= 1 on every task (Lambda invocations fail transiently).
The same checks run against tests/e2e/dags/fixtures/ to prove they catch a bad DAG.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from airflow.configuration import conf
from airflow.dag_processing.dagbag import DagBag

DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"
FIXTURES_FOLDER = Path(__file__).resolve().parent / "fixtures"
DEFAULT_OWNER = conf.get("operators", "default_owner")


class NetworkAtParseTimeError(RuntimeError):
    """Raised inside a DAG file that connects or resolves a host name while it is parsed."""


class NetworkGuard:
    """Refuses every connection and DNS lookup, and remembers what was attempted."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def refuse(self, what: str, target: Any) -> None:
        self.attempts.append(f"{what} {target!r}")
        raise NetworkAtParseTimeError(f"network access at DAG parse time: {what} {target!r}")

    @contextmanager
    def active(self) -> Iterator[NetworkGuard]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket.socket, "connect", lambda sock, address: self.refuse("connect", address))
            patch.setattr(socket.socket, "connect_ex", lambda sock, address: self.refuse("connect", address))
            patch.setattr(
                socket, "getaddrinfo", lambda host, port, *a, **kw: self.refuse("resolve", (host, port))
            )
            yield self


def parse(folder: Path) -> tuple[DagBag, list[str]]:
    """Parse every .py file in ``folder`` (not only those mentioning 'dag') with the network blocked."""
    with NetworkGuard().active() as guard:
        dagbag = DagBag(dag_folder=folder, safe_mode=False)
    return dagbag, guard.attempts


def convention_problems(dagbag: DagBag) -> list[str]:
    problems = []
    for dag_id, dag in sorted(dagbag.dags.items()):
        where = f"DAG {dag_id!r} ({Path(dag.fileloc).name})"
        if not dag.tags:
            problems.append(f"{where} has no tags")
        if not dag.description:
            problems.append(f"{where} has no description")
        for task in dag.tasks:
            if task.owner == DEFAULT_OWNER:
                problems.append(f"{where} task {task.task_id!r} keeps the default owner {DEFAULT_OWNER!r}")
            if task.retries < 1:
                problems.append(f"{where} task {task.task_id!r} has retries={task.retries}, needs >= 1")
    return problems


@pytest.fixture(scope="module")
def project_dags() -> tuple[DagBag, list[str]]:
    dagbag, attempts = parse(DAGS_FOLDER)
    if not dagbag.dags and not dagbag.import_errors:
        pytest.fail(
            f"no DAG found in {DAGS_FOLDER}: the integrity checks would pass without checking anything"
        )
    return dagbag, attempts


def test_every_dag_file_imports_without_errors(project_dags: tuple[DagBag, list[str]]) -> None:
    dagbag, _ = project_dags
    assert dagbag.import_errors == {}, "\n".join(f"{f}: {e}" for f, e in dagbag.import_errors.items())


def test_no_dag_file_uses_the_network_while_parsed(project_dags: tuple[DagBag, list[str]]) -> None:
    _, attempts = project_dags
    assert attempts == []


def test_every_dag_follows_the_conventions(project_dags: tuple[DagBag, list[str]]) -> None:
    dagbag, _ = project_dags
    assert convention_problems(dagbag) == []


def test_checks_catch_bad_dags_and_pass_a_good_one() -> None:
    dagbag, attempts = parse(FIXTURES_FOLDER)

    assert set(dagbag.dags) == {"bad_conventions", "good_conventions"}
    assert attempts == ["resolve ('127.0.0.1', 9)"]
    [network_error] = [e for f, e in dagbag.import_errors.items() if f.endswith("network_at_parse.py")]
    assert "network access at DAG parse time" in network_error
    assert convention_problems(dagbag) == [
        "DAG 'bad_conventions' (bad_conventions.py) has no tags",
        "DAG 'bad_conventions' (bad_conventions.py) has no description",
        f"DAG 'bad_conventions' (bad_conventions.py) task 'noop' keeps the default owner {DEFAULT_OWNER!r}",
        "DAG 'bad_conventions' (bad_conventions.py) task 'noop' has retries=0, needs >= 1",
    ]
