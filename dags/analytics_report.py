"""Daily analytics report: revenue by day and country, top SKUs, upload stats, Lambda cost per pipeline.

Runs whenever new orders or uploads are committed (scheduled on the ``orders`` and ``uploads`` table
Assets, either one), rebuilds the days of the ``daily_report`` table whose facts changed, in one
atomic snapshot (see lambdapipe_demo/daily_report.py), and sends one SNS message per run with the
headline numbers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

from lambdapipe.assets import table_asset
from lambdapipe.operators.sns import SnsNotifyOperator
from lambdapipe_demo import settings

AWS_CONN_ID = "aws_default"


@dag(
    dag_id="analytics_report",
    description="Rebuild the daily_report table from the order, upload and invocation facts; notify",
    schedule=(table_asset("orders") | table_asset("uploads")),
    catchup=False,
    max_active_runs=1,
    tags=["lambdapipe", "tables", "report", "sns"],
    default_args={"owner": "lambdapipe", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"top_skus": Param(10, type="integer", minimum=1, description="SKUs ranked per day")},
    doc_md=__doc__,
)
def analytics_report() -> None:
    @task(outlets=[table_asset("daily_report")])
    def build_daily_report(**context: Any) -> dict[str, Any]:
        """Recompute the days whose facts changed and replace their rows in one snapshot."""
        from lambdapipe_demo.daily_report import refresh_daily_report

        ti = context["ti"]
        return refresh_daily_report(ti.dag_id, ti.run_id, top_skus=context["params"]["top_skus"])

    SnsNotifyOperator(
        task_id="notify_report",
        topic_arn=settings.topic_arn(settings.NOTIFICATIONS_TOPIC),
        subject="analytics_report",
        message=build_daily_report(),
        kind="report",
        message_attributes={"pipeline": "analytics_report"},
        idempotency_table=settings.IDEMPOTENCY_TABLE,
        aws_conn_id=AWS_CONN_ID,
    )


analytics_report()
