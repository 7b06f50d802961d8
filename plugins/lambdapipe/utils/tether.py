"""The supervisor between an owner process and one program it starts: the program never outlives it.

``lambdapipe.utils.child_processes.spawn`` runs this file as a script::

    python -I -S tether.py WATCH_FD OWNER GRACE_S -- PROGRAM [ARGS...]

It imports nothing but the standard library, so it starts in a few milliseconds. It

- makes itself a child subreaper, so whatever the program spawns stays its descendant even when
  the program's own children lose their parent;
- starts the program in a process group of its own with ``LAMBDAPIPE_OWNER=OWNER`` in its
  environment (how ``child_processes.orphans`` recognises our processes) and with a parent-death
  signal, should the tether itself be SIGKILLed;
- forwards SIGTERM, SIGINT and SIGHUP to the program;
- watches WATCH_FD, the read end of a pipe whose only write end the owner holds: end-of-file means
  the owner is gone (exit, crash or SIGKILL: the kernel closes its descriptors); a changed parent
  PID says the same where a forked copy of the owner still holds the write end;
- when the owner is gone, or the program has ended: SIGTERM to every remaining descendant, SIGKILL
  to those still running after GRACE_S seconds; then it exits as the program did.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

OWNER_VARIABLE = "LAMBDAPIPE_OWNER"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
OWNER_CHECK_INTERVAL_S = 1.0
KILL_WAIT_S = 5.0  # after SIGKILL: a process in uninterruptible sleep is left, not waited on forever


def _prctl(option: int, value: int) -> None:
    """Linux process control; a no-op where it does not exist (the pipe still ties the lives)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def descendants(root: int) -> list[int]:
    """PIDs of every process below ``root``, read from /proc (children before grandchildren)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        parent = int(stat[stat.rfind(")") + 2 :].split()[1])  # after "pid (comm) state"
        children.setdefault(parent, []).append(int(entry))
    found, frontier = [], [root]
    while frontier:
        for child in children.get(frontier.pop(0), []):
            found.append(child)
            frontier.append(child)
    return found


class Tether:
    """Runs one program and ends it, and everything below it, when the owner goes."""

    def __init__(self, watch_fd: int, owner: str, grace_s: float, program: list[str]) -> None:
        self.watch_fd = watch_fd
        self.grace_s = grace_s
        self.parent = os.getppid()
        self.pending_signals: list[int] = []
        self.status: int | None = None  # the program's wait status once it ended
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, lambda signum, _frame: self.pending_signals.append(signum))
        self.program = subprocess.Popen(
            program,
            env={**os.environ, OWNER_VARIABLE: owner},
            process_group=0,  # a terminal's Ctrl-C reaches the tether only, which forwards it once
            preexec_fn=lambda: _prctl(PR_SET_PDEATHSIG, signal.SIGTERM),  # single-threaded: safe
        )

    def run(self) -> int:
        """Wait for the program's end or the owner's; returns the program's wait status."""
        next_owner_check = time.monotonic() + OWNER_CHECK_INTERVAL_S
        while True:
            self._forward_signals()
            self._reap()
            if self.status is not None:
                break
            if self._owner_gone(next_owner_check):
                break
            if time.monotonic() >= next_owner_check:
                next_owner_check = time.monotonic() + OWNER_CHECK_INTERVAL_S
        self._end_descendants()
        return self.status if self.status is not None else -1

    def _owner_gone(self, next_owner_check: float) -> bool:
        timeout = max(0.0, next_owner_check - time.monotonic())
        ready, _, _ = select.select([self.watch_fd, self.wakeup_read], [], [], timeout)
        if self.wakeup_read in ready:
            os.read(self.wakeup_read, 512)
        if self.watch_fd in ready and os.read(self.watch_fd, 1) == b"":
            return True
        return os.getppid() != self.parent

    def _forward_signals(self) -> None:
        while self.pending_signals:
            signum = self.pending_signals.pop(0)
            if self.status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.program.pid, signum)

    def _reap(self) -> None:
        """Collect every ended child (ours and adopted ones), noting the program's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.program.pid:
                self.status = status

    def _signal_tree(self, signum: int) -> list[int]:
        pids = descendants(os.getpid())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
        return pids

    def _end_descendants(self) -> None:
        """SIGTERM what is left below the tether, SIGKILL what outlives the grace period."""
        self._signal_tree(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            self._reap()
            if not descendants(os.getpid()):
                return
            time.sleep(0.05)
        deadline = time.monotonic() + KILL_WAIT_S
        while self._signal_tree(signal.SIGKILL) and time.monotonic() < deadline:
            time.sleep(0.05)
            self._reap()


def exit_as(status: int) -> None:
    """Exit with the program's code, or die of the signal that ended it, so the owner sees the same."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    sys.exit(os.waitstatus_to_exitcode(status) if status >= 0 else 1)


def main(argv: list[str]) -> None:
    watch_fd, owner, grace_s, separator, *program = argv
    if separator != "--" or not program:
        sys.exit("usage: tether.py WATCH_FD OWNER GRACE_S -- PROGRAM [ARGS...]")
    try:
        tether = Tether(int(watch_fd), owner, float(grace_s), program)
    except OSError as error:  # the program cannot be executed: the shell's code for "not found"
        sys.exit(f"tether: cannot start {program[0]}: {error}")
    exit_as(tether.run())


if __name__ == "__main__":
    main(sys.argv[1:])
