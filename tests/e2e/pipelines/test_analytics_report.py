"""The shipped ``analytics_report`` DAG rebuilds ``daily_report`` from the facts, on the local stack.

The facts are real: an ``order_analytics`` run over seeded orders (plus uploads committed as the
upload pipeline commits them, and whatever other tests of the session left). The report run is
created and executed with the documented CLI sequence (``dags reserialize``, ``dags trigger``,
``tasks test`` per task), and checked against an aggregation of the facts computed here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from include.sample_orders import SampleOrder
from lambdapipe_demo.orders import Window
from tests.e2e.pipelines.conftest import PipelineStack
from tests.e2e.pipelines.order_helpers import (
    ORDER_DAG,
    airflow_in_process,
    deploy_order_transform,
    drain,
    expected_usd_total,
    seed_orders,
    sent_by,
    shipped_dag,
    table_rows,
    task_states,
    xcom,
)

pytestmark = pytest.mark.timeout(900)

REPORT_DAG = "analytics_report"
REPORT_TASKS = ("build_daily_report", "notify_report")
RUN_ID = "manual__report_test"
HOUR = Window(datetime(2026, 2, 3, 9, tzinfo=UTC))
TOP_SKUS = 10


@dataclass
class ReportRun:
    orders: list[SampleOrder]
    states: dict[str, str]
    messages: list[dict[str, Any]]


def commit_uploads() -> None:
    """Upload rows on two days, as the upload pipeline commits them."""
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.conform import rows_to_arrow
    from lambdapipe.tables.writer import commit_run

    day = datetime(2026, 2, 3, 12, tzinfo=UTC)
    statuses = ("resized", "resized", "rejected", "skipped", "resized")
    rows = [
        {
            "bucket": "uploads",
            "key": f"incoming/report-test-{index}.jpg",
            "etag": f"etag-{index}",
            "size": 1000 * (index + 1),
            "status": status,
            "processed_at": day + timedelta(days=index % 2, minutes=index),
        }
        for index, status in enumerate(statuses)
    ]
    seed_key = {"dag_id": "report_test_seed", "run_id": "uploads"}
    commit_run(ensure_table("uploads"), rows_to_arrow([{**row, **seed_key} for row in rows]), seed_key)


@pytest.fixture(scope="module")
def report_run(pipeline_stack: PipelineStack, tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    deploy_order_transform(pipeline_stack, tmp_path_factory.mktemp("report-functions"))
    orders = seed_orders(pipeline_stack, HOUR.start, 150, seed=401, invalid_share=0.1)
    shipped_dag(ORDER_DAG).test(run_after=HOUR.end, logical_date=HOUR.end)
    commit_uploads()
    drain(pipeline_stack, "notifications_inbox_url")
    airflow_in_process("dags", "reserialize")
    airflow_in_process("dags", "trigger", REPORT_DAG, "--run-id", RUN_ID)
    for task_id in REPORT_TASKS:
        airflow_in_process("tasks", "test", REPORT_DAG, task_id, RUN_ID)
    messages = sent_by(drain(pipeline_stack, "notifications_inbox_url"), REPORT_DAG)
    return ReportRun(orders, task_states(REPORT_DAG, RUN_ID), messages)


def report_rows() -> dict[tuple[date, str, str], dict[str, Any]]:
    rows = table_rows("daily_report")
    keys = [(row["report_date"], row["section"], row["dimension"]) for row in rows]
    assert len(keys) == len(set(keys)), "one row per day, section and dimension"
    return dict(zip(keys, rows, strict=True))


def aggregated_facts() -> dict[tuple[date, str, str], dict[str, Any]]:
    """The report computed here, in Python, from every row of the fact tables."""
    expected: dict[tuple[date, str, str], dict[str, Any]] = {}
    for row in table_rows("orders"):
        entry = expected.setdefault(
            (row["order_date"], "revenue_by_country", row["shipping_country"]),
            {"orders": 0, "quantity": 0, "revenue_usd": Decimal("0.00")},
        )
        entry["orders"] += 1
        entry["quantity"] += row["quantity_total"]
        entry["revenue_usd"] += row["order_total_usd"]
    skus: dict[date, dict[str, dict[str, Any]]] = defaultdict(dict)
    for line in table_rows("order_lines"):
        sku = skus[line["order_date"]].setdefault(
            line["sku"], {"orders": set(), "quantity": 0, "revenue_usd": Decimal("0.00")}
        )
        sku["orders"].add(line["order_id"])
        sku["quantity"] += line["qty"]
        sku["revenue_usd"] += line["line_total_usd"]
    for day, by_sku in skus.items():
        ranked = sorted(by_sku.items(), key=lambda item: (-item[1]["revenue_usd"], item[0]))[:TOP_SKUS]
        for rank, (sku, totals) in enumerate(ranked, start=1):
            expected[(day, "top_skus", sku)] = {**totals, "orders": len(totals["orders"]), "rank": rank}
    for row in table_rows("uploads"):
        entry = expected.setdefault(
            (row["processed_at"].astimezone(UTC).date(), "uploads", row["status"]),
            {"uploads": 0, "upload_bytes": 0},
        )
        entry["uploads"] += 1
        entry["upload_bytes"] += row["size"]
    for row in table_rows("lambda_invocations"):
        entry = expected.setdefault(
            (row["invoked_at"].astimezone(UTC).date(), "lambda_cost", row["dag_id"]),
            {"invocations": 0, "lambda_cost_usd": 0.0},
        )
        entry["invocations"] += 1
        entry["lambda_cost_usd"] += row["cost_usd"]
    return expected


def test_the_report_matches_an_aggregation_of_the_facts(report_run: ReportRun) -> None:
    expected = aggregated_facts()
    report = report_rows()

    assert report_run.states == dict.fromkeys(REPORT_TASKS, "success")
    assert set(report) == set(expected)
    for key, values in expected.items():
        row = report[key]
        for column, value in values.items():
            if column == "lambda_cost_usd":
                assert row[column] == pytest.approx(value, rel=1e-9), key
            else:
                assert row[column] == value, (key, column)
    assert {row["run_id"] for row in report.values()} == {RUN_ID}


def test_the_reports_revenue_for_the_seeded_day_is_the_seeded_orders_revenue(report_run: ReportRun) -> None:
    valid = [order for order in report_run.orders if order.defect is None]
    day = HOUR.start.date()
    by_country: Counter[str] = Counter()
    for order in valid:
        by_country[order.item["shipping_country"]] += expected_usd_total(order)
    day_facts = [row for row in table_rows("orders") if row["order_date"] == day]

    assert len(day_facts) == len(valid)  # the day holds only the seeded hour's orders
    report = report_rows()
    assert {
        key[2]: row["revenue_usd"] for key, row in report.items() if key[:2] == (day, "revenue_by_country")
    } == (dict(by_country))
    top = sorted((row["rank"], key[2]) for key, row in report.items() if key[:2] == (day, "top_skus"))
    assert [rank for rank, _ in top] == list(range(1, TOP_SKUS + 1))


def test_one_report_notification_per_run_and_a_rerun_changes_nothing(
    pipeline_stack: PipelineStack, report_run: ReportRun
) -> None:
    (message,) = report_run.messages
    summary = json.loads(message["Message"])
    assert summary == xcom(REPORT_DAG, RUN_ID, "build_daily_report")
    assert summary["rows"] == len(report_rows())
    before = {key: {k: v for k, v in row.items() if k != "built_at"} for key, row in report_rows().items()}

    for task_id in REPORT_TASKS:
        airflow_in_process("tasks", "test", REPORT_DAG, task_id, RUN_ID)

    after = {key: {k: v for k, v in row.items() if k != "built_at"} for key, row in report_rows().items()}
    assert after == before
    assert sent_by(drain(pipeline_stack, "notifications_inbox_url"), REPORT_DAG) == []
    assert xcom(REPORT_DAG, RUN_ID, "notify_report")["sent"] is False


def test_a_later_run_rebuilds_only_the_day_a_new_commit_touched(report_run: ReportRun) -> None:
    """The report reads the commits made since it last ran, not every fact: other days keep their rows."""
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.conform import rows_to_arrow
    from lambdapipe.tables.writer import commit_run

    later_run_id, new_day = "manual__report_later", date(2026, 2, 20)
    before = report_rows()
    key = {"dag_id": "report_test_seed", "run_id": "later_upload"}
    row = {"bucket": "uploads", "key": "incoming/later.jpg", "etag": "e", "size": 7, "status": "resized"}
    noon = datetime.combine(new_day, datetime.min.time(), UTC) + timedelta(hours=12)
    commit_run(ensure_table("uploads"), rows_to_arrow([row | key | {"processed_at": noon}]), key)

    airflow_in_process("dags", "trigger", REPORT_DAG, "--run-id", later_run_id)
    airflow_in_process("tasks", "test", REPORT_DAG, "build_daily_report", later_run_id)

    after = report_rows()
    assert {key for key, row in after.items() if row["run_id"] == later_run_id} == {
        (new_day, "uploads", "resized")
    }
    assert {key: row for key, row in after.items() if key[0] != new_day} == before  # built_at too
    assert (
        after[(new_day, "uploads", "resized")]["uploads"]
        == aggregated_facts()[(new_day, "uploads", "resized")]["uploads"]
    )
