"""Start a real Airflow stack for a test, with ``scripts/devstack.py``, and find what it left running.

``running_platform`` creates the demo's AWS resources, waits until every DAG file is parsed, lets
the test prepare what must exist before the DAGs run by themselves, unpauses every DAG, and ends
every process the stack started (by PID) however the block exits.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (scripts, not a package)
from airflow_api import AirflowApi  # noqa: E402

PARSE_TIMEOUT_SECONDS = 240.0


@dataclass
class Platform:
    """A running stack whose DAGs are all parsed and unpaused, and its REST client."""

    settings: devstack.Settings
    stack: devstack.Stack
    api: AirflowApi


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_platform(
    settings: devstack.Settings, prepare: Callable[[Platform], None] | None = None
) -> Iterator[Platform]:
    """Start the stack, create the demo infrastructure, wait for every DAG file to be parsed without
    import errors, run ``prepare``, unpause every DAG.

    The infrastructure comes first: the S3 watcher polls its queue as soon as its DAG is unpaused.
    Whatever happens, every process the stack started is ended (by PID) when the block exits.
    """
    with devstack.running_stack(settings) as stack:
        platform = Platform(settings, stack, AirflowApi(settings))
        create_demo_infrastructure(stack)
        dag_ids = wait_for_dag_files(platform.api, settings.dags_folder)
        if prepare is not None:
            prepare(platform)
        for dag_id in sorted(dag_ids):
            platform.api.unpause(dag_id)
        yield platform


def create_demo_infrastructure(stack: devstack.Stack) -> None:
    """Buckets, queues, topics and tables as ``make run`` creates them; functions are left to the deploy DAG."""
    result = subprocess.run(
        [sys.executable, "include/demo_infrastructure.py", "--no-deploy"],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"include/demo_infrastructure.py failed:\n{result.stderr[-3000:]}"


def wait_for_dag_files(api: AirflowApi, folder: Path) -> set[str]:
    """The DAG ids once every .py file in ``folder`` is parsed; fails on an import error."""
    expected = {path.name for path in folder.glob("*.py")}
    deadline = time.monotonic() + PARSE_TIMEOUT_SECONDS
    while True:
        errors = api.get("/importErrors?limit=1000")["import_errors"]
        assert not errors, "DAG import errors:\n" + "\n".join(e["stack_trace"] for e in errors)
        dags = api.get("/dags?limit=1000")["dags"]
        if expected <= {Path(dag["relative_fileloc"]).name for dag in dags}:
            return {dag["dag_id"] for dag in dags}
        if time.monotonic() > deadline:
            pytest.fail(f"DAG files not parsed after {PARSE_TIMEOUT_SECONDS:.0f} s: {sorted(expected)}")
        time.sleep(2)


def processes_of(home: Path) -> list[str]:
    """Live processes (zombies aside) whose command line or AIRFLOW_HOME names ``home``."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == psutil.Process().pid:
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(home) in cmdline or process.environ().get("AIRFLOW_HOME") == str(home):
                found.append(f"{process.pid}: {cmdline}")
    return found
