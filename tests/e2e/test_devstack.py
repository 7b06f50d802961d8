"""The dev stack (`make run`, `make demo`, `make stop`) comes up healthy, comes back with its runs,
tables and AWS state after a stop or a kill -9, and leaves nothing running.

A second stack runs beside any `make run`: its own AIRFLOW_HOME in a temporary folder and free ports.
"Nothing left" means no process, zombies aside, whose command line or AIRFLOW_HOME names that folder.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lambdapipe.utils.child_processes import spawn
from tests.support.doc_recipes import blocks

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))
import devstack  # noqa: E402  (a script, not a package)
import stack_state  # noqa: E402
from airflow_api import AirflowApi  # noqa: E402

READY_TIMEOUT_SECONDS = 300.0
QUIET_S = 3.0


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
        assert _readme_greeting(settings) == '{"message":"Hello, Ada!"}', (
            "greeting_api deployed with its routes"
        )
    finally:
        subprocess.run([*devstack_py, "stop"], check=True)

    assert _processes_of(settings.home) == []
    assert devstack.running(settings) is None


def _readme_greeting(settings: devstack.Settings) -> str:
    """What the README's curl of greeting_api prints against this stack (its env.sh, not .airflow's)."""
    [recipe] = [block for block in blocks(REPO / "README.md", "bash") if "lambdapipe url" in block]
    recipe = recipe.replace("source .airflow/env.sh", f"source {shlex.quote(str(settings.home / 'env.sh'))}")
    result = subprocess.run(
        ["bash", "-e", "-c", recipe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _state_of_the_sample_orders_hour_run(settings: devstack.Settings) -> str:
    """The end state of the order_analytics run `make run` started for the sample orders' hour."""
    api = AirflowApi(settings)
    runs = api.get("/dags/order_analytics/dagRuns?limit=100")["dag_runs"]
    [hour_run] = [run for run in runs if (run.get("conf") or {}).get("hours")]
    return api.wait_for_run("order_analytics", hour_run["dag_run_id"], timeout=READY_TIMEOUT_SECONDS)["state"]


def test_a_restart_after_stop_and_after_kill_9_keeps_runs_tables_and_uploads_and_processes_new_ones(
    settings: devstack.Settings,
) -> None:
    """After the first test's `make stop`: the README's `make run` again (this stack's options
    added), whose demo must pass again (its watcher run comes from this start's uploads), then kill
    -9 everything. What was saved until then
    still agrees: the home's local AWS state, served alone, passes `lambdapipe tables check` and has
    the uploads' rows. Before, the second start failed every upload run: the tables catalog in the
    home outlived the local stack's S3."""
    earlier_runs = _run_ids(settings, "s3_upload_processing")
    make_run_output = settings.home / "make-run.out"
    with make_run_output.open("wb") as output:
        launcher = subprocess.Popen(
            [*_readme_make_run(), f"STACK_OPTIONS={shlex.join(_argv(settings))}"],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(settings, launcher)
        assert earlier_runs and earlier_runs <= _run_ids(settings, "s3_upload_processing")
        demo = subprocess.run(
            [sys.executable, str(SCRIPTS / "demo.py"), *_argv(settings)], capture_output=True, text=True
        )
        assert demo.returncode == 0, (
            f"make demo passes twice in a row:\n{demo.stdout}{demo.stderr}"
            f"make run printed:\n{make_run_output.read_text(errors='replace')}"
        )
        _wait_until_the_aws_state_is_saved_and_quiet(settings.home)
    finally:
        _kill_9(settings.home)
        launcher.wait(timeout=30)
    assert _processes_of(settings.home) == []

    with _local_aws_alone(settings):
        check = subprocess.run(
            [str(devstack.BIN / "lambdapipe"), "tables", "check"],
            env=devstack.stack_environment(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        demo_rows = _uploads_rows(settings, "demo")

    assert check.returncode == 0, check.stderr
    assert demo_rows > 0, "the uploads the two demos processed are still in the table"
    assert earlier_runs <= _run_ids(settings, "s3_upload_processing")
    assert _processes_of(settings.home) == []


def _readme_make_run() -> list[str]:
    """The README's `make run` line, as the first recipe gives it."""
    [line] = [
        line for line in blocks(REPO / "README.md", "bash")[0].splitlines() if line.startswith("make run")
    ]
    return shlex.split(line.split("#", 1)[0])


@contextlib.contextmanager
def _local_aws_alone(settings: devstack.Settings) -> Iterator[None]:
    """The stack's `lambdapipe local`, on its state in the home, without Airflow."""
    [local_aws] = [component for component in devstack.components(settings) if component.name == "local-aws"]
    env = devstack.stack_environment(settings)
    server = spawn(local_aws.argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while devstack._get(str(local_aws.health_url))[0] != 200:
            assert server.poll() is None, f"lambdapipe local exited with {server.returncode}"
            assert time.monotonic() < deadline, "lambdapipe local did not become healthy"
            time.sleep(0.5)
        yield
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _run_ids(settings: devstack.Settings, dag_id: str) -> set[str]:
    """From the metadata DB itself, so it answers while the stack is stopped too."""
    with contextlib.closing(sqlite3.connect(f"file:{settings.home / 'airflow.db'}?mode=ro", uri=True)) as db:
        return {run_id for (run_id,) in db.execute("select run_id from dag_run where dag_id = ?", (dag_id,))}


def _uploads_rows(settings: devstack.Settings, prefix: str) -> int:
    sql = f"select count(*) as n from uploads where key like 'incoming/{prefix}/%'"
    result = subprocess.run(
        [str(devstack.BIN / "lambdapipe"), "tables", "query", sql],
        env=devstack.stack_environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.splitlines()[2])


def _wait_until_the_aws_state_is_saved_and_quiet(home: Path) -> None:
    """No save for QUIET_S: what the stack changed last is on disk (it saves 0.5 s after a change).
    A kill in the half second after a table commit would be out of step by design (the docs say so)."""
    state = home / stack_state.AWS_STATE_FILE
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.time() - state.stat().st_mtime < QUIET_S:
        if time.monotonic() > deadline:
            pytest.fail(f"the stack kept saving {state} for {READY_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.5)


def _kill_9(home: Path) -> None:
    """SIGKILL every process of the stack at once, as a power cut would end them: the ones naming the
    home and all their descendants (LocalExecutor workers retitle themselves, which also blanks the
    environment a search by AIRFLOW_HOME reads). Fails if any outlives the kill."""
    leaders = []
    for line in _processes_of(home):
        with contextlib.suppress(psutil.Error):
            leaders.append(psutil.Process(int(line.split(":", 1)[0])))
    victims = set(leaders)
    for leader in leaders:
        with contextlib.suppress(psutil.Error):
            victims.update(leader.children(recursive=True))
    for process in victims:
        with contextlib.suppress(psutil.Error):
            process.kill()
    _, alive = psutil.wait_procs(victims, timeout=30)
    assert alive == [], f"survived SIGKILL: {alive}"
