"""docs/pipeline-uploads.md's shell recipes run as written in a new shell, after what `make run` does.

Its own file (and so its own test process) beside the orders recipe: each recipe runs a whole
pipeline task by task, minutes each.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.pipelines.test_s3_upload_processing import TASKS as UPLOAD_DAG_TASKS
from tests.support.doc_recipes import made_run, recipe, run_recipe, task_states


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with made_run(tmp_path_factory.mktemp("made-run")) as arguments:
        yield arguments


def test_the_uploads_tasks_test_recipe_runs_every_task_as_written_in_a_new_shell(
    shell: dict[str, Any],
) -> None:
    result, logs = run_recipe(recipe("pipeline-uploads.md", "airflow dags pause s3_upload_processing"), shell)

    states = task_states(result)
    assert states == [(task, "success") for task in UPLOAD_DAG_TASKS], result.stdout + result.stderr[-3000:]
    # The run processed the files the recipe uploaded: three images and the four bad files.
    assert "7 candidate upload(s), 7 to process in this run" in logs["collect_uploads"]


def test_the_sample_uploads_recipe_puts_its_uploads_in_the_stacks_bucket(shell: dict[str, Any]) -> None:
    """After the tasks test recipe (xdist keeps a module's order): it counts what incoming/ holds."""
    result = subprocess.run(
        ["bash", "-e", "-c", recipe("pipeline-uploads.md", "include/demo_infrastructure.py")], **shell
    )

    assert result.returncode == 0, result.stderr[-3000:]
    uploads = [json.loads(line) for line in result.stdout.splitlines()]
    # Twenty images and the four kinds of bad file.
    assert len(uploads) == 24 and all(upload["key"].startswith("incoming/demo/") for upload in uploads)
