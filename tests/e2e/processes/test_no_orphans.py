"""No orphans: whatever ends a process of ours, the processes it started end with it within 10 s.

Each test plays the part of whatever ends the parent (``timeout``'s SIGTERM, a CI runner's or the
OOM killer's SIGKILL), then looks for survivors by PID and by a mark on their command line or in
their environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lambdapipe.utils.child_processes import orphans, owner_identity, spawn, started_by
from lambdapipe.utils.tether import descendants
from tests.e2e.processes.helpers import (
    REPO,
    command_line,
    kill_and_collect_survivors,
    marked_processes,
    new_mark,
    sleeper,
    start_owner,
    wait_for_line,
)
from tests.support.local_stack import wait_until

KILLS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]
MARK_VARIABLE = "ORPHAN_PROBE_MARK"  # not AIRFLOW_/AWS_/LAMBDAPIPE_: the devstack passes it on


@pytest.mark.parametrize("signum", KILLS)
def test_a_spawned_program_its_child_and_a_daemon_it_detached_end_with_their_owner(signum: int) -> None:
    mark = new_mark()
    owner = start_owner([sys.executable, "-m", "tests.e2e.processes.owners", "spawned_tree", mark])
    wait_for_line(owner, "ready")
    assert len(marked_processes(mark)) >= 3  # the program, its child, the daemon

    survivors, marked = kill_and_collect_survivors(owner, signum, mark)

    assert (survivors, marked) == ([], [])


@pytest.mark.parametrize("signum", KILLS)
def test_the_local_stack_fixtures_lambda_runtimes_end_with_the_test_process(
    signum: int, tmp_path: Path
) -> None:
    mark = new_mark()
    owner = start_owner(  # its state folder in tmp_path: a killed stack cannot remove it
        [sys.executable, "-m", "tests.e2e.processes.owners", "local_stack", mark],
        env={"TMPDIR": str(tmp_path)},
    )
    wait_for_line(owner, "ready")
    runtimes = marked_processes(mark)
    assert len(runtimes) >= 2, runtimes  # the owner and its warm runtime (AWS_LAMBDA_FUNCTION_NAME)

    survivors, marked = kill_and_collect_survivors(owner, signum, mark)

    assert (survivors, marked) == ([], [])


@pytest.mark.parametrize("signum", KILLS)
def test_a_benchmark_ended_mid_run_leaves_no_local_aws_server(signum: int, tmp_path: Path) -> None:
    mark = new_mark()
    benchmark = start_owner(  # its temporary folders in tmp_path: a killed benchmark cannot remove them
        [sys.executable, "benchmarks/orders.py", "--orders", "200000"],
        env={MARK_VARIABLE: mark, "TMPDIR": str(tmp_path)},
    )
    server = wait_until(
        lambda: [pid for pid in descendants(benchmark.pid) if "lambdapipe local" in command_line(pid)],
        60,
        "the benchmark's local AWS server",
    )

    survivors, marked = kill_and_collect_survivors(benchmark, signum, mark, server)

    assert (survivors, marked) == ([], [])


@pytest.mark.parametrize("signum", KILLS)
def test_the_devstack_launcher_ended_leaves_no_component(signum: int, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    import devstack

    mark = new_mark()
    home = tmp_path / "airflow"
    argv = ["--home", str(home), "--api-port", str(devstack._free_port())]
    argv += ["--aws-port", str(devstack._free_port()), "--no-demo-data", "up"]
    launcher = start_owner([sys.executable, "scripts/devstack.py", *argv], env={MARK_VARIABLE: mark})
    pid_file = home / "devstack.json"
    expected = {"local-aws", "scheduler", "dag-processor", "triggerer", "api-server"}
    components = wait_until(
        lambda: pid_file.exists() and set(json.loads(pid_file.read_text())["components"]) == expected,
        180,
        "every component to be launched",
    )
    assert components
    launched = [int(pid) for pid, _ in json.loads(pid_file.read_text())["components"].values()]
    # By tree too: the scheduler's LocalExecutor workers rename themselves (setproctitle), which also
    # blanks the environment that holds their owner mark.
    below = sorted(
        {*launched, *(p.pid for p in started_by(owner_identity(launcher.pid))), *descendants(launcher.pid)}
    )

    survivors, marked = kill_and_collect_survivors(launcher, signum, mark, below)

    assert (survivors, marked) == ([], [])


def test_signals_reach_the_program_and_its_exit_is_the_programs() -> None:
    sleeper = spawn(["sleep", "60"])
    wait_until(lambda: started_by(owner_identity()), 10, "the sleeper")
    sleeper.terminate()
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    assert spawn([sys.executable, "-c", "raise SystemExit(3)"]).wait(timeout=10) == 3
    missing = spawn(["/nonexistent/program"], stderr=subprocess.PIPE, text=True)
    assert missing.wait(timeout=10) == 1
    assert "cannot start /nonexistent/program" in missing.stderr.read()


def _fake_orphan(mark: str) -> subprocess.Popen:
    """A process whose recorded owner is gone: PID 1 with a start time it never had."""
    return subprocess.Popen(sleeper(mark), env={**os.environ, "LAMBDAPIPE_OWNER": "1:0"})


def test_orphans_names_a_process_whose_owner_is_gone_and_not_one_whose_owner_runs() -> None:
    mark = new_mark()
    orphan = _fake_orphan(mark)
    owned = spawn(sleeper(mark))
    try:
        wait_until(lambda: len(marked_processes(mark)) == 3, 10, "both sleepers")  # + the tether
        found = [p for p in orphans() if mark in p.command_line]
        assert [p.pid for p in found] == [orphan.pid]
        assert owned.pid not in [p.pid for p in orphans()]
    finally:
        orphan.kill()
        orphan.wait()
        owned.kill()
        owned.wait()


def test_make_status_reports_orphans_and_exits_1_only_when_there_are_some(tmp_path: Path) -> None:
    status = [sys.executable, "scripts/devstack.py", "--home", str(tmp_path), "status"]
    clean = subprocess.run(status, cwd=REPO, capture_output=True, text=True)
    assert (clean.returncode, clean.stdout.splitlines()[0]) == (0, "devstack: not running"), clean.stdout

    mark = new_mark()
    orphan = _fake_orphan(mark)
    try:
        wait_until(lambda: marked_processes(mark), 10, "the orphan")
        reported = subprocess.run(status, cwd=REPO, capture_output=True, text=True)
    finally:
        orphan.kill()
        orphan.wait()
    assert reported.returncode == 1
    assert f"orphan         pid {orphan.pid:<8} {' '.join(sleeper(mark))}" in reported.stdout


def test_a_test_session_that_leaves_a_process_running_fails_and_ends_it(tmp_path: Path) -> None:
    mark = new_mark()
    (tmp_path / "test_leak.py").write_text(
        "from lambdapipe.utils.child_processes import spawn\n"
        "KEPT = []\n"
        "def test_leaks():\n"
        f"    KEPT.append(spawn({sleeper(mark)!r}))\n"
    )
    pytest_argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.support.orphans",
    ]
    session = subprocess.run(
        [*pytest_argv, "--rootdir", str(tmp_path), str(tmp_path / "test_leak.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert session.returncode == 1, session.stdout + session.stderr
    assert "left running by this test session, ending it:" in session.stdout
    assert marked_processes(mark) == []


def test_an_installer_that_times_out_is_ended_with_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdapipe.packaging import installer
    from lambdapipe.packaging.errors import DependencyInstallError

    mark = new_mark()
    monkeypatch.setattr(installer, "INSTALL_TIMEOUT_S", 2)
    program = "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(60)"
    source = tmp_path / "requirements.txt"
    with pytest.raises(DependencyInstallError, match=r"requirements.txt: .*python did not finish in 2 s"):
        installer.run_installer([sys.executable, "-c", program, *sleeper(mark)], source)

    wait_until(lambda: not marked_processes(mark), 10, "the installer's child to end")
