"""Real scheduling on the default stack (SQLite, LocalExecutor): not ``dag.test()``.

The scheduler, dag-processor, triggerer, API server and the local AWS server run as separate
processes, as ``make run`` starts them; the shipped DAGs are unpaused and every pipeline in
``pipelines.PIPELINES`` runs the way it does in production (an S3 upload through the SQS watcher,
hourly scheduled runs) and succeeds, as the REST API reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.platform import pipelines
from tests.e2e.platform.stacks import devstack, free_port, processes_of, running_platform

pytestmark = pytest.mark.timeout(1200)


def test_shipped_pipelines_run_for_real_on_the_default_stack(tmp_path: Path, dags_folder: Path) -> None:
    settings = devstack.Settings(
        home=tmp_path / "airflow",
        api_port=free_port(),
        aws_port=free_port(),
        dags_folder=dags_folder,
        extra_environment=pipelines.stack_environment(),
    )
    with running_platform(settings, pipelines.prepare) as platform:
        names = {component.name for component in platform.stack.components}
        assert names == {"local-aws", "scheduler", "dag-processor", "triggerer", "api-server"}
        assert platform.api.get("/dags?paused=true&limit=1000")["dags"] == []
        for pipeline in pipelines.PIPELINES:
            pipeline(platform)

    assert processes_of(settings.home) == []
