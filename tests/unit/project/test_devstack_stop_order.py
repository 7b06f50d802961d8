"""`make stop` ends the local AWS only after every Airflow component has exited, so the local AWS's
last save holds everything Airflow's tasks wrote to it, and it gets the time that save needs.

Before, every component had SIGTERM at once and 20 s in all: a task committing a table while the
local AWS was already stopping left the tables catalog naming files the saved AWS state lacked, and
the next `make run` refused to start ("the tables catalog names files the local AWS state does not
have").
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)

AIRFLOW_STOP_S = 1.0
SAVE_ALLOWANCE_S = 10.0  # the last save of a large state on a loaded machine


def _component(name: str, journal: Path, stop_s: float) -> devstack.Component:
    """A Python program that notes when SIGTERM reached it and, ``stop_s`` later, that it exited."""
    program = textwrap.dedent(
        f"""
        import signal, sys, time

        def note(event):
            with open({str(journal)!r}, "a") as journal:
                journal.write(f"{{time.time()}} {name} {{event}}\\n")

        def stop(*_):
            note("got SIGTERM")
            time.sleep({stop_s})
            note("exited")
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        note("started")
        time.sleep(120)
        """
    )
    return devstack.Component(name, [sys.executable, "-c", program])


def _events(journal: Path) -> dict[str, float]:
    events = {}
    for line in journal.read_text().splitlines():
        at, event = line.split(" ", 1)
        events[event] = float(at)
    return events


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal"


def _started_stack(tmp_path: Path, *components: devstack.Component) -> devstack.Stack:
    stack = devstack.Stack(devstack.Settings(home=tmp_path / "home"))
    stack.settings.log_dir.mkdir(parents=True)
    for component in components:
        stack.launch(component)
    return stack


def _wait_started(journal: Path, names: list[str]) -> None:
    deadline = time.monotonic() + 30
    while not (journal.exists() and all(f"{name} started" in _events(journal) for name in names)):
        assert time.monotonic() < deadline, "the stand-in components did not start"
        time.sleep(0.1)


def test_the_local_aws_gets_sigterm_only_after_the_airflow_components_exited(
    tmp_path: Path, journal: Path
) -> None:
    stack = _started_stack(
        tmp_path,
        _component("local-aws", journal, stop_s=0.0),
        _component("scheduler", journal, stop_s=AIRFLOW_STOP_S),
        _component("triggerer", journal, stop_s=AIRFLOW_STOP_S),
    )
    _wait_started(journal, ["local-aws", "scheduler", "triggerer"])

    stack.stop()

    events = _events(journal)
    last_airflow_exit = max(events["scheduler exited"], events["triggerer exited"])
    assert events["local-aws got SIGTERM"] >= last_airflow_exit


def test_the_local_aws_is_stopped_with_its_own_grace_not_the_airflow_one(
    tmp_path: Path, journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that outlasts the Airflow grace but not the local AWS's is not cut short by SIGKILL.
    (Both graces are shortened so the test takes seconds, not minutes.)"""
    monkeypatch.setattr(devstack, "STOP_GRACE_SECONDS", 1.0)
    monkeypatch.setattr(devstack, "LOCAL_AWS_STOP_GRACE_SECONDS", 6.0)
    stack = _started_stack(tmp_path, _component("local-aws", journal, stop_s=3.0))
    _wait_started(journal, ["local-aws"])

    stack.stop()

    assert "local-aws exited" in _events(journal), "the local AWS was killed before it finished saving"


def test_the_local_aws_grace_covers_its_own_stop_waits_and_a_save() -> None:
    """`lambdapipe local` waits up to STOP_WAIT_S for its pollers, as long again for answers in
    progress, then saves: its grace must hold all of that."""
    from lambdapipe_local.server import STOP_WAIT_S

    assert devstack.LOCAL_AWS_STOP_GRACE_SECONDS >= 2 * STOP_WAIT_S + SAVE_ALLOWANCE_S
