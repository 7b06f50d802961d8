"""docs/pipeline-orders.md's `airflow dags test` recipe runs the orders pipeline for the hour it
seeds, then the report, as written in a new shell after what `make run` does (its own file: minutes
of Airflow)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pipelines.test_analytics_report import REPORT_TASKS
from tests.e2e.pipelines.test_order_analytics import TASKS as ORDER_DAG_TASKS
from tests.support.doc_recipes import made_run, recipe, run_recipe, task_states


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with made_run(tmp_path_factory.mktemp("made-run")) as arguments:
        yield arguments


def _task_states_by_dag(airflow_db: Path) -> dict[str, dict[str, str]]:
    """Every task instance's end state, per DAG, from the stack's metadata DB."""
    with sqlite3.connect(airflow_db) as db:
        rows = db.execute("select dag_id, task_id, state from task_instance").fetchall()
    states: dict[str, dict[str, str]] = {}
    for dag_id, task_id, state in rows:
        states.setdefault(dag_id, {})[task_id] = state
    return states


def test_the_orders_dags_test_recipe_runs_the_seeded_hour_and_the_report_as_written_in_a_new_shell(
    shell: dict[str, Any],
) -> None:
    result, logs = run_recipe(recipe("pipeline-orders.md", "airflow dags pause order_analytics"), shell)

    assert task_states(result) == [("order_analytics", "success"), ("analytics_report", "success")], (
        result.stdout + result.stderr[-3000:]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _task_states_by_dag(shell["cwd"] / ".airflow" / "airflow.db") == {
        "order_analytics": dict.fromkeys(ORDER_DAG_TASKS, "success"),
        "analytics_report": dict.fromkeys(REPORT_TASKS, "success"),
    }
    assert "500 orders in ['2026-01-15T10']" in logs["order_analytics"]  # the hour the recipe seeded
    assert "revenue_by_country" in result.stdout  # the report the recipe built, queried


def test_an_hour_the_dag_refuses_makes_the_orders_recipe_say_failed_show_the_log_and_stop(
    shell: dict[str, Any],
) -> None:
    """The same block with an hour the DAG's ``hours`` param refuses (the run is never created): one
    "failed" line naming the log, its end on screen naming the param, no report."""
    text = recipe("pipeline-orders.md", "airflow dags pause order_analytics")
    assert "HOUR=2026-01-15T10" in text
    result, _ = run_recipe(text.replace("HOUR=2026-01-15T10", "HOUR=yesterday"), shell)

    assert task_states(result) == [("order_analytics", "failed")], result.stdout + result.stderr[-3000:]
    assert "hours" in result.stdout.split("order_analytics: failed", 1)[1]  # the log's end names it
    assert "revenue_by_country" not in result.stdout
