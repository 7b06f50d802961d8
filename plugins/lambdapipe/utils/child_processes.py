"""Child processes that die with the process that started them, and a way to find any that did not.

Every long-lived child the project starts (the development stack's components, the local AWS
server of a benchmark or a test) goes through ``spawn``: a small supervisor, ``tether.py``, sits
between owner and program and ends the program and everything below it when the owner exits,
crashes or is SIGKILLed, within the grace period plus about a second. Each such program carries
``LAMBDAPIPE_OWNER=<pid>:<start time>`` in its environment, inherited by whatever it starts, so
``orphans`` can name every process of ours whose owner is gone (``make status``, the test suite's
teardown).

    process = spawn(["lambdapipe", "local", "--port", "0"], stdout=log, stderr=subprocess.STDOUT)
    ...
    process.terminate()  # forwarded to the program; or just exit: the program follows
"""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapipe.utils.tether import OWNER_VARIABLE

TETHER = Path(__file__).with_name("tether.py")
DEFAULT_GRACE_S = 5.0


def spawn(argv: list[str], *, grace_s: float = DEFAULT_GRACE_S, **popen_kwargs: Any) -> subprocess.Popen:
    """Start ``argv`` (``subprocess.Popen`` keyword arguments apply) tied to this process's life.

    The returned process is the supervisor: signals sent to it reach the program, and its exit code
    (or the signal that ended it) is the program's. The program also ends when the returned object
    is garbage collected: keep it for as long as the program should run.
    """
    owner = owner_identity()
    # The tether carries the mark too, so the program counts as ours from the moment it is spawned.
    environment = popen_kwargs.get("env")
    popen_kwargs["env"] = {**(os.environ if environment is None else environment), OWNER_VARIABLE: owner}
    watch_read, watch_write = os.pipe()  # both ends non-inheritable: no other child holds them open
    try:
        tether = [sys.executable, "-I", "-S", str(TETHER), str(watch_read), owner, str(grace_s)]
        process = subprocess.Popen(
            [*tether, "--", *map(str, argv)],
            pass_fds=(watch_read, *popen_kwargs.pop("pass_fds", ())),
            **popen_kwargs,
        )
    except BaseException:
        os.close(watch_write)
        raise
    finally:
        os.close(watch_read)
    weakref.finalize(process, os.close, watch_write)
    return process


def run(argv: list[str], *, timeout: float | None = None, **popen_kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run`` through ``spawn``: on timeout, or if this process dies, the whole tree ends.

    (``subprocess.run`` kills only the direct child on timeout: an installer's own children go on.)
    """
    if popen_kwargs.pop("capture_output", False):
        popen_kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process = spawn(argv, **popen_kwargs)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()  # the tether ends the program and everything below it
        process.communicate()
        raise
    except BaseException:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def owner_identity(pid: int | None = None) -> str:
    """``<pid>:<start time>``: a PID recycled by another process never matches."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_ticks(pid)}"


@dataclass(frozen=True)
class OwnedProcess:
    """A running process started through ``spawn`` (or below one), with the owner it names."""

    pid: int
    owner: str
    command_line: str

    @property
    def orphaned(self) -> bool:
        owner_pid, _, _ = self.owner.partition(":")
        return not owner_pid.isdigit() or _identity_or_none(int(owner_pid)) != self.owner


def owned_processes() -> list[OwnedProcess]:
    """Every running process that carries an owner mark (readable ones: our user's, or all as root)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        owner = _owner_mark(int(entry))
        if owner is not None:
            found.append(OwnedProcess(int(entry), owner, _command_line(int(entry))))
    return found


def orphans() -> list[OwnedProcess]:
    """Processes of ours still running although the process that started them is gone."""
    return [process for process in owned_processes() if process.orphaned]


def started_by(owner: str) -> list[OwnedProcess]:
    """Processes still running that ``owner`` (an ``owner_identity``) started, or their descendants."""
    return [process for process in owned_processes() if process.owner == owner]


def _owner_mark(pid: int) -> str | None:
    prefix = f"{OWNER_VARIABLE}=".encode()
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for variable in environment.split(b"\0"):
        if variable.startswith(prefix):
            return variable[len(prefix) :].decode(errors="replace")
    return None


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()[19]


def _identity_or_none(pid: int) -> str | None:
    try:
        return f"{pid}:{_start_ticks(pid)}"
    except OSError:
        return None
