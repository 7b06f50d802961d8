"""``benchmarks/chaos.py`` at small scale, as ``make test`` runs it: faults and kills, nothing lost.

The full-scale runs are ``make chaos``; this one proves the harness and the guarantees on a few
dozen uploads and a few hundred orders, with every fault kind injected and processes killed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.platform.stacks import REPO

pytestmark = pytest.mark.timeout(1500)

SMALL = ("--scale", "0.002", "--hours", "1", "--waves", "2", "--kill-every", "10", "--kills-per-kind", "1")


def test_a_small_chaos_run_loses_nothing_duplicates_nothing_and_sends_no_notification_twice() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/chaos.py", *SMALL],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1400,
    )
    output = done.stdout + done.stderr[-3000:]

    assert done.returncode == 0, output
    assert re.fullmatch(
        r"lost=0 duplicated=0 notifications_extra=0 reexecuted=\d+", done.stdout.splitlines()[-1]
    )
    table = dict(
        line.split(None, 1) for line in done.stdout.splitlines() if line.startswith(("faults", "kills"))
    )
    faults = json.loads(re.search(r"\{.*\}", table["faults"]).group())
    assert {"lambda_throttle", "s3_internal_error"} <= {kind for kind, hits in faults.items() if hits}, output
    assert json.loads(table["kills"]), f"no process was killed:\n{output}"
