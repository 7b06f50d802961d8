"""Run a test DAG with ``dag.test()`` and read back what its tasks left: XComs, task log, S3 JSON lines.

Task logs go to stdout under ``dag.test()`` (the task runs in this process), so a test reads them
from pytest's ``capsys``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.models.dagrun import DagRun
from airflow.sdk import DAG
from sqlalchemy import func, select

from tests.support.dag_runs import register


def run_dag(dag: DAG) -> DagRun:
    """Register ``dag`` as the dag-processor would, then run it once in this process."""
    register(dag)
    return dag.test()


def xcom(run: DagRun, task_id: str, key: str = "return_value") -> Any:
    """The value ``task_id`` pushed under ``key`` in ``run`` (None when it pushed none)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def xcom_by_map_index(run: DagRun, task_id: str, key: str = "return_value") -> dict[int, Any]:
    """The values the mapped instances of ``task_id`` pushed under ``key``, by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        )
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def triggers_created(trigger_class: type) -> int:
    """How many triggers of this class were ever deferred to (``dag.test()`` leaves every Trigger row)."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    classpath = f"{trigger_class.__module__}.{trigger_class.__qualname__}"
    with create_session() as session:
        return session.scalar(select(func.count()).select_from(Trigger).where(Trigger.classpath == classpath))


def task_log(capsys: pytest.CaptureFixture[str]) -> str:
    """Everything the tasks logged since the last call."""
    return capsys.readouterr().out


def read_jsonl(s3: Any, uri: str) -> list[dict[str, Any]]:
    """Every line of every JSON-lines object under an ``s3://bucket/prefix/`` URI, in key order."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    lines: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            lines.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return lines


def s3_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
