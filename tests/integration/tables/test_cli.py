"""``lambdapipe tables list|show|query``, configured only through Airflow connections.

Two tests run the installed console script in a subprocess (the full path a shell takes: one of them
the docs' console session); the others call the same ``main`` in-process, which is quicker and
prints the same text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambdapipe.commands.tables import MISSING_FILES_EXIT, format_table, main
from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.definitions import registered_tables
from lambdapipe.tables.writer import airflow_snapshot_properties, commit_run
from tests.support.doc_recipes import REPO, blocks
from tests.support.order_rows import DAG_ID, order_table, run_key

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def orders_with_two_runs(connections: TablesConfig):
    orders = ensure_table("orders", connections)
    commit_run(
        orders, order_table("r1", 3), run_key("r1"), airflow_snapshot_properties(DAG_ID, "r1", "load", 1)
    )
    commit_run(
        orders, order_table("r2", 2), run_key("r2"), airflow_snapshot_properties(DAG_ID, "r2", "load", 2)
    )
    return orders


def test_query_from_a_shell_prints_an_aligned_table(orders_with_two_runs) -> None:
    executable = shutil.which("lambdapipe", path=str(Path(sys.executable).parent))
    assert executable, "the console script is installed by `uv sync`"
    sql = "select run_id, count(*) as orders from orders group by run_id order by run_id"

    # The environment of a deployment's shell: the connections, no AWS_* variables.
    result = subprocess.run(
        [executable, "tables", "query", sql], env=dict(os.environ), capture_output=True, text=True, timeout=90
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "quiet by default: no library logs (no aws_default connection here)"
    assert result.stdout.splitlines() == [
        "run_id  orders",
        "------  ------",
        "r1           3",
        "r2           2",
        "(2 rows)",
    ]


def _console_session(page: Path) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the page's console block (a quoted argument may span lines), with the
    output lines the page shows under it."""
    [block] = blocks(page, "console")
    session: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        elif session[-1][0].count('"') % 2:
            session[-1] = (f"{session[-1][0]}\n{line}", [])
        else:
            session[-1][1].append(line)
    return session


def test_the_docs_console_session_runs_as_written_and_prints_the_columns_it_shows(
    orders_with_two_runs,
) -> None:
    """docs/tables.md's commands in a shell; the columns the page shows, the output has."""
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    session = _console_session(REPO / "docs" / "tables.md")
    assert [command.split()[:3] for command, _ in session] == [
        ["lambdapipe", "tables", "list"],
        ["lambdapipe", "tables", "show"],
        ["lambdapipe", "tables", "query"],
    ]

    for command, shown in session:
        result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=90)

        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout, f"{command} printed nothing"
        header = result.stdout.splitlines()[0].split()
        if shown:
            assert header == shown[0].split(), command
        if "tables query" in command:
            assert header == ["order_date", "orders", "usd"]


def test_list_shows_every_defined_table_with_its_size_and_last_run(
    orders_with_two_runs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list"]) == 0

    out = capsys.readouterr().out
    table = out[out.index("table  ") :].splitlines()  # in-process, Airflow's INFO logs share stdout
    lines = {line.split()[0]: line.split() for line in table[2:]}
    assert set(lines) == set(registered_tables())
    assert lines["orders"][:3] == ["orders", "5", "2"]  # rows, data files
    assert lines["orders"][4:6] == ["KiB", "2"]  # size unit, snapshots
    assert lines["orders"][-1] == "r2"
    assert lines["uploads"][1:] == ["not", "created", "yet"]


def test_show_prints_location_partitioning_columns_and_recent_snapshots(
    connections: TablesConfig, orders_with_two_runs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "orders", "--snapshots", "2"]) == 0

    out = capsys.readouterr().out
    assert f"location          {connections.warehouse}/lambdapipe/orders" in out
    assert "partitioned by    order_date (identity)" in out
    assert "run key           dag_id, interval_start, interval_end" in out
    by_first_word = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert by_first_word["order_total_usd"] == ["order_total_usd", "decimal(18,", "2)"]
    snapshots = out.split("recent snapshots (newest first)\n")[1].splitlines()[2:]
    assert [line.split()[-3:] for line in snapshots] == [["r2", "load", "2"], ["r1", "load", "1"]]


def test_query_naming_no_table_fails_with_the_tables_it_knows(
    connections: TablesConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_table("orders", connections)

    assert main(["query", "select 1"]) == 1
    assert "the SQL names none of the tables in 'lambdapipe': ['orders']" in capsys.readouterr().err


def test_format_table_right_aligns_numbers_and_blanks_nulls() -> None:
    text = format_table(["name", "n", "note"], [["a", 1, None], ["bb", 22.5, "x"]])

    assert text.splitlines() == ["name     n  note", "----  ----  ----", "a        1", "bb    22.5  x"]


def test_check_names_each_table_whose_metadata_file_the_warehouse_lost(
    aws, connections: TablesConfig, orders_with_two_runs, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_table("uploads", connections)
    assert main(["check"]) == 0
    assert "2 table(s), every metadata file readable" in capsys.readouterr().out
    bucket, _, prefix = orders_with_two_runs.metadata_location.removeprefix("s3://").partition("/")
    aws.client("s3").delete_object(Bucket=bucket, Key=prefix)  # as when the object store was reset

    assert main(["check"]) == MISSING_FILES_EXIT == 3

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("lambdapipe tables check: orders: ")
    assert prefix.rsplit("/", 1)[-1] in line, "the missing metadata file is named"


def test_check_passes_before_anything_created_the_catalog(
    connections: TablesConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    assert "no catalog yet (nothing committed): nothing to check" in capsys.readouterr().out
