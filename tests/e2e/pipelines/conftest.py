"""One local AWS stack per session with the demo infrastructure, reached as a deployment reaches AWS.

The stack runs in-process; tasks (``dag.test()`` in this process, ``airflow`` CLI subprocesses) reach
it through ``AWS_ENDPOINT_URL`` and the ``aws_default`` connection, and the tables through the
``lambdapipe_tables`` connection (a SQLite catalog in the session's temp folder, the warehouse in
the stack's S3). The infrastructure comes from ``include/demo_infrastructure.py``, as in ``make run``;
only ``image_resize`` is deployed (the pipeline's one function), through the same deploy path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdapipe_local import LocalAws

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class PipelineStack:
    """The running stack, the resources ``ensure_infrastructure`` returned and the tasks' environment."""

    aws: LocalAws
    resources: dict[str, Any]
    env: dict[str, str]

    def client(self, service: str) -> Any:
        return self.aws.client(service)


@pytest.fixture(scope="session")
def pipeline_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineStack]:
    from airflow.utils.db import initdb

    from include.demo_infrastructure import deploy_functions, ensure_infrastructure

    functions = tmp_path_factory.mktemp("functions")
    (functions / "image_resize").symlink_to(REPO / "lambda_functions" / "image_resize")
    catalog = tmp_path_factory.mktemp("tables") / "catalog.db"
    with LocalAws(idle_timeout_s=120, check_signatures=True) as aws, pytest.MonkeyPatch.context() as patch:
        aws_default = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": aws.endpoint_url, "region_name": "us-east-1"},
        }
        tables = {
            "conn_type": "generic",
            "extra": {
                "catalog_uri": f"sqlite:///{catalog}",
                "warehouse": "s3://lambdapipe-tables/warehouse",
                "aws_conn_id": "aws_default",
            },
        }
        env = {
            **aws.environ(),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_default),
            "AIRFLOW_CONN_LAMBDAPIPE_TABLES": json.dumps(tables),
        }
        for name, value in env.items():
            patch.setenv(name, value)
        initdb()
        resources = ensure_infrastructure("aws_default", deploy=False)
        resources["functions"] = deploy_functions("aws_default", functions)
        yield PipelineStack(aws, resources, env)
