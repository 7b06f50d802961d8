"""The dev stack (`make run`, `make demo`, `make stop`) comes up healthy and leaves nothing running.

A second stack runs beside any `make run`: its own AIRFLOW_HOME in a temporary folder and free ports.
"Nothing left" means no process, zombies aside, whose command line or AIRFLOW_HOME names that folder.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import devstack  # noqa: E402  (a script, not a package)
from airflow_api import AirflowApi  # noqa: E402

READY_TIMEOUT_SECONDS = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> devstack.Settings:
    return devstack.Settings(
        home=tmp_path_factory.mktemp("devstack-home"), api_port=_free_port(), aws_port=_free_port()
    )


def _argv(settings: devstack.Settings) -> list[str]:
    return [
        "--home",
        str(settings.home),
        "--api-port",
        str(settings.api_port),
        "--aws-port",
        str(settings.aws_port),
    ]


def _processes_of(home: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == psutil.Process().pid:
                continue
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(home) in cmdline or process.environ().get("AIRFLOW_HOME") == str(home):
                found.append(f"{process.pid}: {cmdline}")
    return found


def _wait_healthy(settings: devstack.Settings, launcher: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not (settings.pid_file.exists() and devstack.airflow_health(settings)):
        assert launcher.poll() is None, f"the launcher exited with {launcher.returncode}"
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {READY_TIMEOUT_SECONDS:.0f} s; logs in {settings.log_dir}")
        time.sleep(1)


def test_start_then_demo_then_stop_leaves_nothing_running(settings: devstack.Settings) -> None:
    devstack_py = [sys.executable, str(SCRIPTS / "devstack.py"), *_argv(settings)]
    subprocess.run([*devstack_py, "start"], check=True, timeout=READY_TIMEOUT_SECONDS + 120)
    try:
        components = devstack.running(settings)["components"]
        assert set(components) >= {"scheduler", "dag-processor", "triggerer", "api-server"}
        assert (settings.home / "env.sh").is_file(), "the shell environment the docs' recipes source"
        demo = subprocess.run(
            [sys.executable, str(SCRIPTS / "demo.py"), *_argv(settings)], capture_output=True, text=True
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "no import errors" in demo.stdout
        assert _state_of_the_sample_orders_hour_run(settings) == "success"
    finally:
        subprocess.run([*devstack_py, "stop"], check=True)

    assert _processes_of(settings.home) == []
    assert devstack.running(settings) is None


def _state_of_the_sample_orders_hour_run(settings: devstack.Settings) -> str:
    """The end state of the order_analytics run `make run` started for the sample orders' hour."""
    api = AirflowApi(settings)
    runs = api.get("/dags/order_analytics/dagRuns?limit=100")["dag_runs"]
    [hour_run] = [run for run in runs if (run.get("conf") or {}).get("hours")]
    return api.wait_for_run("order_analytics", hour_run["dag_run_id"], timeout=READY_TIMEOUT_SECONDS)["state"]


def test_ctrl_c_on_up_stops_every_component(settings: devstack.Settings) -> None:
    launcher = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "devstack.py"), *_argv(settings), "up"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(settings, launcher)
        assert len(_processes_of(settings.home)) >= 4
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=devstack.STOP_GRACE_SECONDS + 30)

    assert launcher.returncode == 0
    assert _processes_of(settings.home) == []
