"""The invocation ledger: the rows of ``lambda_invocations``, written by the operators that invoke.

``LambdaInvokeOperator`` and ``LambdaMapOperator`` record their own invocations (on by default:
``record_invocations=None`` follows ``[lambdapipe] record_invocations``), so any DAG's invocations
reach the Lambda view and the cost figures without code of its own. Each commit replaces one task
instance's rows, so a retried or rerun task never duplicates them:

- the invoke operator replaces its try's rows (``try_number`` is in the run key: an earlier try's
  invocation really happened and stays recorded);
- the map operator replaces the task instance's rows with every record under its ``metrics_uri``,
  which holds the invocations of every try.

The ledger is a record of what happened, never a reason to invoke again: when it cannot be written
(a catalog outage, say) the task logs a warning and goes on; the records stay in the task's XCom
(``lambda_invocations``) or under ``metrics_uri``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdapipe import settings
from lambdapipe.tables.commit import commit_rows
from lambdapipe.tables.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

LEDGER_TABLE = "lambda_invocations"
SETTING = "record_invocations"


def recording_enabled(explicit: bool | None) -> bool:
    """The operator's own choice, else ``[lambdapipe] record_invocations`` (default true)."""
    if explicit is not None:
        return explicit
    return settings.get_bool(SETTING)


def task_run_key(context: Context, *, per_try: bool) -> dict[str, Any]:
    """The ledger rows one task instance (and, with ``per_try``, one of its tries) owns."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    key: dict[str, Any] = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": None if map_index in (None, -1) else map_index,
    }
    if per_try:
        key["try_number"] = ti.try_number
    return key


def record_invocations(
    rows: Sequence[Mapping[str, Any]],
    run_key: Mapping[str, Any],
    context: Context,
    log: logging.Logger,
    tables_conn_id: str = DEFAULT_CONN_ID,
) -> bool:
    """Replace the ledger rows of ``run_key`` with ``rows``; False (and a warning) when it cannot."""

    try:
        result = commit_rows(
            LEDGER_TABLE, list(rows), run_key=dict(run_key), context=context, tables_conn_id=tables_conn_id
        )
    except Exception as error:  # the invocations happened: never fail (and re-invoke) over the ledger
        log.warning(
            "%d invocation record(s) not written to %s (%s: %s); they stay in this task's XCom or metrics",
            len(rows),
            LEDGER_TABLE,
            type(error).__name__,
            error,
        )
        return False
    log.info("Recorded %d invocation(s) in %s (snapshot %s)", len(rows), LEDGER_TABLE, result["snapshot_id"])
    return True


def records_under(s3: Any, metrics_uri: str) -> list[dict[str, Any]]:
    """Every ledger record in the JSON-lines parts under ``metrics_uri`` (a fan-out's metrics)."""
    bucket, _, prefix = metrics_uri.removeprefix("s3://").partition("/")
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return rows
