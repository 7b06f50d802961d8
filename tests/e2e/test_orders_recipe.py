"""docs/pipeline-orders.md's `airflow tasks test` recipe runs every task of the orders pipeline and
the report as written, in a new shell after what `make run` does (its own file: minutes of tasks)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.pipelines.test_analytics_report import REPORT_TASKS
from tests.e2e.pipelines.test_order_analytics import TASKS as ORDER_DAG_TASKS
from tests.support.doc_recipes import made_run, recipe, run_recipe, task_states


def test_the_orders_tasks_test_recipe_runs_every_task_and_the_report_as_written_in_a_new_shell(
    tmp_path: Path,
) -> None:
    with made_run(tmp_path) as shell:
        result, logs = run_recipe(recipe("pipeline-orders.md", "airflow dags pause order_analytics"), shell)

    expected = [*ORDER_DAG_TASKS, *REPORT_TASKS]
    assert task_states(result) == [(task, "success") for task in expected], (
        result.stdout + result.stderr[-3000:]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "500 orders in ['2026-01-15T10']" in logs["extract_orders"]  # the hour the recipe seeded
    assert "revenue_by_country" in result.stdout  # the report the recipe built, queried
