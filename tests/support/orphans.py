"""A pytest plugin (``-p tests.support.orphans``; the suite's conftest loads it): no process left behind.

At the end of a session (each xdist worker's and the controller's) every process this pytest
process started through ``spawn`` that still runs is named and ended, and every orphan of ours on the
machine that was not there when the session started is named. Either fails the session.
"""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from lambdapipe.utils.child_processes import orphans, owner_identity, started_by

_orphans_at_start: set[int] = set()


def note_orphans_at_start() -> None:
    """Remember the orphans already on the machine: the session reports them but is not failed by them."""
    for process in orphans():
        print(f"orphaned process of ours from before this session: {process.pid} {process.command_line}")
        _orphans_at_start.add(process.pid)


def end_leftover_processes() -> bool:
    """Report (and end, where they are this session's) processes left running; True if any."""
    leftovers = started_by(owner_identity())
    new_orphans = [process for process in orphans() if process.pid not in _orphans_at_start]
    for process in leftovers:
        print(f"\nleft running by this test session, ending it: {process.pid} {process.command_line}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    for process in new_orphans:
        print(
            f"\norphaned process of ours (owner {process.owner} is gone): {process.pid} {process.command_line}"
        )
    return bool(leftovers or new_orphans)


def pytest_sessionstart(session: pytest.Session) -> None:
    note_orphans_at_start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if end_leftover_processes() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
