"""Rows every pipeline records about itself: its run summary (operators record their invocations)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def pipeline_run_row(
    context: Any, count_in: int, count_out: int, count_rejected: int, status: str = "success"
) -> dict[str, Any]:
    """One ``pipeline_runs`` row for the running DAG run."""
    run = context["dag_run"]
    return {
        "data_interval_start": getattr(run, "data_interval_start", None),
        "data_interval_end": getattr(run, "data_interval_end", None),
        "count_in": count_in,
        "count_out": count_out,
        "count_rejected": count_rejected,
        "status": status,
        "finished_at": datetime.now(UTC),
    }


def run_rows(
    table_name: str, dag_id: str, run_id: str, columns: list[str] | None = None
) -> list[dict[str, Any]]:
    """The rows one DAG run committed to a lambdapipe table (by an earlier try, or before a rerun)."""
    from pyiceberg.expressions import And, EqualTo

    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    row_filter = And(EqualTo("dag_id", dag_id), EqualTo("run_id", run_id))
    return read_table(ensure_table(table_name), row_filter=row_filter, columns=columns).to_pylist()


def run_url(ti: Any) -> str:
    """The DAG run's page in the Airflow UI, for notifications (``[api] base_url``)."""
    from urllib.parse import quote

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    return f"{base.rstrip('/')}/dags/{quote(ti.dag_id)}/runs/{quote(ti.run_id, safe='')}"
