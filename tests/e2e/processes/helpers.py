"""Finding the processes a test started, by PID and by a mark on their command line or environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from lambdapipe.utils.child_processes import owner_identity
from lambdapipe.utils.tether import OWNER_VARIABLE, descendants

REPO = Path(__file__).resolve().parents[3]
SURVIVAL_LIMIT_S = 10.0

# What this test process started, so a failing test (or code under test that leaks) still leaves the
# machine clean: see end_what_tests_started().
_owners: list[subprocess.Popen] = []
_marks: list[str] = []


def new_mark() -> str:
    mark = f"lambdapipe-orphan-probe-{uuid.uuid4().hex[:12]}"
    _marks.append(mark)
    return mark


def sleeper(mark: str, seconds: int = 60) -> list[str]:
    """A command that sleeps with ``mark`` on its command line (GNU sleep refuses extra arguments)."""
    return [sys.executable, "-c", f"import time; time.sleep({seconds})", mark]


def marked_processes(mark: str) -> list[str]:
    """``pid: command line`` of every live process whose command line or environment holds ``mark``."""
    found = []
    needle = mark.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {command}")
    return found


def command_line(pid: int) -> str:
    """The command line of ``pid``, "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pids: list[int]) -> list[int]:
    """The PIDs that still run (zombies count as gone: they hold no resources but a table slot)."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return running


def start_owner(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """A plain child (not tethered: the test plays the part of whatever kills it).

    It carries this process's owner mark, so the session's leftover check also finds it.
    """
    owner = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, **(env or {}), OWNER_VARIABLE: owner_identity()},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _owners.append(owner)
    return owner


def end_what_tests_started() -> None:
    """SIGKILL the owners still running and every process holding one of the marks handed out."""
    for owner in _owners:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()
    for mark in _marks:
        for process in marked_processes(mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(process.split(":", 1)[0]), signal.SIGKILL)
    _owners.clear()
    _marks.clear()


def wait_for_line(process: subprocess.Popen, text: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return
    process.kill()
    raise AssertionError(f"no {text!r} from {process.args}:\n{''.join(seen)[-3000:]}")


def kill_and_collect_survivors(
    owner: subprocess.Popen, signum: int, mark: str, pids: list[int] | None = None
) -> tuple[list[int], list[str]]:
    """Send ``signum`` to ``owner``; after at most 10 s, the PIDs below it and the marked processes left."""
    below = descendants(owner.pid) if pids is None else pids
    assert below, f"{owner.args} started no process to watch"
    os.kill(owner.pid, signum)
    owner.wait(timeout=SURVIVAL_LIMIT_S)
    deadline = time.monotonic() + SURVIVAL_LIMIT_S
    while (alive(below) or marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors, marked = alive(below), marked_processes(mark)
    stragglers = [found for pid in survivors for found in (pid, *descendants(pid))]
    for pid in stragglers:  # a failing test still leaves the machine clean, whatever they started since
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return survivors, marked
