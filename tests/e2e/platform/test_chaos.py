"""``benchmarks/chaos.py`` at small scale, as docs/guarantees.md gives it: faults and kills, nothing lost.

The full-scale runs are ``make chaos``; this one runs the page's recipe as written: a few dozen
uploads and a few hundred orders, faults injected and processes killed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from tests.e2e.platform.stacks import REPO

pytestmark = pytest.mark.timeout(1500)


def small_run_recipe() -> list[str]:
    """The command in docs/guarantees.md's bash block."""
    page = (REPO / "docs" / "guarantees.md").read_text()
    (command,) = [line for line in re.findall(r"```bash\n(.*?)```", page, re.DOTALL)[0].splitlines() if line]
    argv = shlex.split(command)
    assert argv[:2] == [".venv/bin/python", "benchmarks/chaos.py"], argv
    return [sys.executable, *argv[1:]]


def test_a_small_chaos_run_loses_nothing_duplicates_nothing_and_sends_no_notification_twice() -> None:
    done = subprocess.run(
        small_run_recipe(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    output = done.stdout + done.stderr[-3000:]

    assert done.returncode == 0, output
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("lost=")]
    assert re.fullmatch(r"lost=0 duplicated=0 notifications_extra=0 reexecuted=\d+", verdict), output
    assert done.stdout.count("machine: calibration") == 2, "the machine's speed before and after"
    table = dict(
        line.split(None, 1) for line in done.stdout.splitlines() if line.startswith(("faults", "kills"))
    )
    faults = json.loads(re.search(r"\{.*\}", table["faults"]).group())
    assert {"lambda_throttle", "s3_internal_error"} <= {kind for kind, hits in faults.items() if hits}, output
    assert json.loads(table["kills"]), f"no process was killed:\n{output}"
