"""`make fidelity` as CI runs it: moto's AWS-verified tests of every service we serve, and its
server-mode Lambda tests, against `lambdapipe local`; every failure must be a known difference in
scripts/fidelity-expectations.toml (2 minutes on an idle 2-core machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_suite_passes_against_the_local_stack_but_for_its_known_differences() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/fidelity.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert {"lambda", "sqs", "sns", "dynamodb", "s3", "logs", "lambda-server-mode", "all"} <= set(rows)
    assert int(rows["all"].split("|")[2]) > 0, "tests ran and passed"
