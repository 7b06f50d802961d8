"""The dev stack's PID file keeps recognising its processes when the wall clock moves (NTP steps it on a
freshly booted VM), and never takes a recycled PID for one of them.

psutil gives a process's start as boot time plus ticks since boot, and Linux recomputes the boot time
from the wall clock: a clock step moves every start time the file recorded. Before, `running` then
found no process of the stack, deleted the PID file of a running stack, and `make demo` failed with
"the stack stopped before its demo data was ready" while `make stop` left every process running.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)

CLOCK_STEP_S = 1.0
START_TIME_RESOLUTION_S = 0.05  # Linux counts start times in clock ticks of 10 ms
EXITED_LAUNCHER = [2**22 + 1, 0.0]  # above Linux's largest PID: no process has it


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[devstack.Stack]:
    """A stack of one real component (a sleeping Python) whose launcher has exited: the PID file's
    launcher entry is this test process, which `stop` must not signal, so it is blanked."""
    stack = devstack.Stack(devstack.Settings(home=tmp_path / "home"))
    stack.settings.log_dir.mkdir(parents=True)
    stack.launch(devstack.Component("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"]))
    state = json.loads(stack.settings.pid_file.read_text())
    stack.settings.pid_file.write_text(json.dumps({**state, "launcher": EXITED_LAUNCHER}))
    yield stack
    stack.stop()


@pytest.fixture
def clock_stepped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wall clock steps forward after the PID file was written, as psutil sees it through the boot
    time it reads from /proc/stat (the only part of a start time a clock change moves)."""
    boot_time = psutil.boot_time()
    monkeypatch.setattr(psutil, "boot_time", lambda: boot_time + CLOCK_STEP_S)
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: boot_time + CLOCK_STEP_S)


def test_a_running_stack_is_still_found_after_the_clock_steps(
    stack: devstack.Stack, clock_stepped: None
) -> None:
    state = devstack.running(stack.settings)

    assert state is not None, "running() took the stack for stopped"
    assert stack.settings.pid_file.exists(), "the PID file of a running stack was deleted"


def test_stop_ends_the_stack_after_the_clock_steps(stack: devstack.Stack, clock_stepped: None) -> None:
    [sleeper] = stack.components

    devstack.stop(stack.settings)

    assert sleeper.process.wait(timeout=30) is not None
    assert not stack.settings.pid_file.exists()


def test_a_recycled_pid_is_not_taken_for_a_component(stack: devstack.Stack) -> None:
    """Another process now holding a recorded PID (its start differs) is no process of the stack."""
    state = json.loads(stack.settings.pid_file.read_text())
    time.sleep(START_TIME_RESOLUTION_S)  # else both could start in the same clock tick
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        state["components"]["sleeper"] = [stranger.pid, state["components"]["sleeper"][1]]
        stack.settings.pid_file.write_text(json.dumps(state))

        assert devstack.running(stack.settings) is None
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_pid_file_written_before_this_format_still_finds_its_stack(stack: devstack.Stack) -> None:
    """A stack started by the previous launcher (wall-clock start times) is still found, so `make
    stop` after an upgrade stops it instead of saying "not running"."""
    [sleeper] = stack.components
    state = json.loads(stack.settings.pid_file.read_text())
    state["components"]["sleeper"] = [sleeper.process.pid, psutil.Process(sleeper.process.pid).create_time()]
    stack.settings.pid_file.write_text(json.dumps(state))

    assert devstack.running(stack.settings) is not None
