"""The dev stack (`make run`, `make demo`, `make stop`) comes up healthy and leaves nothing running.

A second stack runs beside any `make run`: its own AIRFLOW_HOME in a temporary folder and free ports.
"Nothing left" means no process, zombies aside, whose command line or AIRFLOW_HOME names that folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
DOCS = REPO / "docs"
UPLOAD_TASKS = (
    "collect_uploads",
    "resize_images",
    "record_uploads",
    "alert_message",
    "notify_summary",
    "notify_alert",
)
sys.path.insert(0, str(SCRIPTS))
import devstack  # noqa: E402  (a script, not a package)

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


def _tasks_test_recipe() -> str:
    """docs/pipeline-uploads.md's task-by-task recipe, as a reader copies it."""
    blocks = re.findall(
        r"^```bash\n(.*?)^```", (DOCS / "pipeline-uploads.md").read_text(), re.MULTILINE | re.DOTALL
    )
    [recipe] = [block for block in blocks if "airflow dags pause s3_upload_processing" in block]
    return recipe


def _run_in_a_new_shell(
    recipe: str, settings: devstack.Settings, folder: Path
) -> subprocess.CompletedProcess:
    """The recipe in bash, from a folder laid out like the repository (its .airflow is this stack's
    home), with none of this process's Airflow or AWS settings: only what the recipe sets."""
    (folder / ".airflow").symlink_to(settings.home)
    (folder / "include").symlink_to(REPO / "include")
    clean = {key: value for key, value in os.environ.items() if not key.startswith(devstack.FOREIGN_PREFIXES)}
    return subprocess.run(
        ["bash", "-c", recipe], cwd=folder, env=clean, capture_output=True, text=True, timeout=900
    )


def test_start_then_demo_then_the_tasks_test_recipe_then_stop_leaves_nothing_running(
    settings: devstack.Settings, tmp_path: Path
) -> None:
    devstack_py = [sys.executable, str(SCRIPTS / "devstack.py"), *_argv(settings)]
    subprocess.run([*devstack_py, "start"], check=True, timeout=READY_TIMEOUT_SECONDS + 120)
    try:
        components = devstack.running(settings)["components"]
        assert set(components) >= {"scheduler", "dag-processor", "triggerer", "api-server"}
        demo = subprocess.run(
            [sys.executable, str(SCRIPTS / "demo.py"), *_argv(settings)], capture_output=True, text=True
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "no import errors" in demo.stdout

        recipe = _run_in_a_new_shell(_tasks_test_recipe(), settings, tmp_path)

        states = re.findall(r"^(\w+): (\w+) \(log: ", recipe.stdout, re.MULTILINE)
        assert states == [(task, "success") for task in UPLOAD_TASKS], recipe.stdout + recipe.stderr
        [collect_log] = re.findall(r"^collect_uploads: \w+ \(log: (\S+)\)$", recipe.stdout, re.MULTILINE)
        # The run processed the files the recipe uploaded: three images and the four bad files.
        assert "7 candidate upload(s), 7 to process in this run" in Path(collect_log).read_text()
    finally:
        subprocess.run([*devstack_py, "stop"], check=True)

    assert _processes_of(settings.home) == []
    assert devstack.running(settings) is None


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
