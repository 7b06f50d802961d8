"""``benchmarks/history.py`` at small scale: both runs succeed, history does not reach the new run's work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.timeout(600)


def test_the_history_benchmark_runs_both_upload_runs_and_prints_their_ratio() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/history.py",
            "--new",
            "8",
            "--rows",
            "5000",
            "--commits",
            "5",
            "--objects",
            "200",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"^\s+0\s+8\s", out, re.MULTILINE)
    assert re.search(r"^\s+5,000\s+8\s", out, re.MULTILINE)
    assert re.search(r"^ratio history / empty: \d+\.\d\d \(target <= 1\.2\)$", out, re.MULTILINE)
    assert out.count("machine: calibration") == 2
    # Each run claimed its own new objects only: no history row or processed object became a candidate.
    assert result.stderr.count("8 candidate upload(s), 8 to process in this run") == 2
