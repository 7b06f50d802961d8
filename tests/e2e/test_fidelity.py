"""`make fidelity` at small scale: moto's AWS-verified SQS and SNS tests against `lambdapipe local`,
every failure a known difference (the full run, every service and the server-mode Lambda tests, is
`make fidelity`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_moto_aws_verified_sqs_and_sns_tests_pass_against_the_local_stack() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/fidelity.py", "--suite", "sqs", "--suite", "sns"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert {"sqs", "sns", "all"} <= set(rows)
    assert int(rows["all"].split("|")[2]) > 0, "tests ran and passed"
