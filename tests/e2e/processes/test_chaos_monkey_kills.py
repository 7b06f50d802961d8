"""The chaos run's kill of a component is a SIGKILL of its whole process tree, and leaves no orphan.

A component is a program under its tether (``lambdapipe.utils.child_processes.spawn``). Killing only
the tether handed the program a polite SIGTERM (its parent-death signal) instead of the crash the
chaos run promises, and a program slow to shut down, with the children it forked, outlived the run:
a fresh-clone ``make test`` found an ``airflow scheduler`` still running after the small chaos run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.processes.helpers import REPO, marked_processes, new_mark
from tests.support.local_stack import wait_until

# Like a scheduler whose graceful shutdown hangs: it and the child it forked ignore SIGTERM.
STUBBORN_PROGRAM = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    time.sleep(600)
    os._exit(0)
time.sleep(600)
"""


def test_killing_a_component_ends_its_program_and_the_children_it_forked_however_they_handle_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only for this test: on sys.path at collection, scripts/ and benchmarks/ would shadow modules in
    # every worker for the whole session.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import devstack
    from chaos_monkey import ChaosMonkey

    mark = new_mark()
    stack = devstack.Stack(devstack.Settings(home=tmp_path, api_port=devstack._free_port()))
    stack.settings.log_dir.mkdir(parents=True)
    argv = [sys.executable, "-c", STUBBORN_PROGRAM, mark]
    stack.launch(devstack.Component("scheduler", argv))
    try:
        first = wait_until(lambda: _the_tree(mark), 30, "the component's tether, program and child")
        monkey = ChaosMonkey(stack=stack, api=None, kinds=["scheduler"], seed=1)
        monkey._started = time.monotonic()

        assert monkey._kill("scheduler")

        old = set(first)
        wait_until(
            lambda: not old & set(marked_processes(mark)), 15, f"the killed component's tree to end: {first}"
        )
        assert wait_until(lambda: _the_tree(mark), 30, "the component started again")
    finally:  # the stubborn program ignores stop's SIGTERM: no need to wait out its grace period
        devstack.stop_processes([psutil.Process(c.process.pid) for c in stack.components], grace=1)
        stack.stop()
    assert marked_processes(mark) == []


def _the_tree(mark: str) -> list[str]:
    """The tether, the program and its child (each carries ``mark``), once all three run."""
    found = marked_processes(mark)
    return found if len(found) >= 3 else []
