"""Small runs of the benchmarks that have none elsewhere, as their docstrings give them but for the
size (``make bench`` is dag_parse.py): each completes and prints its table. Their figures are not
asserted (performance claims live in benchmarks/, measured at full scale); what they check of the
results (rows written, orders committed) is.

Not here: ``fanout.py`` and ``event_latency.py`` start a whole Airflow stack each (the paths they
time run in tests/e2e/pipelines/ and tests/e2e/ui/), ``deploy.py`` builds every function with cold
dependency caches (tests/integration/deploy/ asserts the no-op redeploy it measures), and chaos.py
and history.py have their own small runs (test_chaos.py, test_history_benchmark.py).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.doc_recipes import reader_environment

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Runs a benchmark from a shell without Airflow or AWS settings (this worker's stacks are not
    its own), with a home of its own: whatever it leaves in ~ shows up there, not in the real one."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**reader_environment(), "HOME": str(home)}

    def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, f"benchmarks/{script}", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=540,
        )

    return run_script


def test_the_local_runtime_benchmark_times_cold_and_warm_invokes_against_the_in_process_handler(
    run: Callable[..., subprocess.CompletedProcess],
) -> None:
    result = run("local_runtime.py", "--calls", "5")

    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^case\s+median ms\s+p95 ms\s+x baseline$", result.stdout, re.MULTILINE)
    assert "targets: warm <= 5 ms median, cold <= 200 ms median" in result.stdout
    figures = re.findall(r"^(.+?)\s+(\d+\.\d{3})\s+(\d+\.\d{3})\s+(\d+)$", result.stdout, re.MULTILINE)
    assert len(figures) >= 3, result.stdout  # the in-process baseline, then cold and warm invokes


def test_the_tables_benchmark_writes_every_row_once_on_both_paths_and_keeps_no_aws_state(
    run: Callable[..., subprocess.CompletedProcess], tmp_path: Path
) -> None:
    result = run("tables.py", "--rows", "3000", "--days", "3")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "rows in the table afterwards: 3,000 (expected 3,000)" in result.stdout
    # Its local AWS started empty and saved nothing: before, the next run found this one's warehouse.
    assert not (tmp_path / "home" / ".lambdapipe").exists()


def test_the_orders_benchmark_commits_every_valid_order_of_its_hour(
    run: Callable[..., subprocess.CompletedProcess],
) -> None:
    result = run("orders.py", "--orders", "400", "--invalid-share", "0.25")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert re.search(r"^400 orders, one hour", result.stdout, re.MULTILINE), result.stdout[-2000:]
    [committed] = re.findall(r"^committed: (\{.*\})$", result.stdout, re.MULTILINE)
    counts = ast.literal_eval(committed)  # table -> rows, as the script prints it
    assert counts["orders"] + counts["order_rejects"] == 400


def test_the_dag_parse_benchmark_times_the_imports_and_a_shipped_dag_file(
    run: Callable[..., subprocess.CompletedProcess], tmp_path: Path
) -> None:
    """``make bench`` at a small scale: one fresh process per figure, one shipped DAG file. Exit 1
    means the parse missed its target on this machine at this moment, which the script reports (a
    figure, not a failure of the benchmark); any other exit is."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "s3_upload_processing.py").write_text((REPO / "dags" / "s3_upload_processing.py").read_text())

    result = run("dag_parse.py", "--runs", "1", "--dags-folder", str(dags))

    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert (result.returncode == 1) == ("over the 300 ms parse target" in result.stdout)
    assert re.search(r"^import lambdapipe\s+\d+\.\d$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(
        r"^parse s3_upload_processing\.py\s+\d+\.\d\s+<= 300 (ok|OVER)$", result.stdout, re.MULTILINE
    )
