"""Helpers for the order-analytics and report tests: seeding orders, reading what runs left behind.

Plain functions on the session's ``pipeline_stack`` (tests/e2e/pipelines/conftest.py); each test module
wraps the few it needs in fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import runpy
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from include.sample_orders import SampleOrder, generate_orders, write_orders
from lambdapipe_demo import settings
from lambdapipe_demo.orders import Window
from tests.e2e.pipelines.conftest import PipelineStack

REPO = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
ORDER_DAG = "order_analytics"
CENT = Decimal("0.01")
HANG_GUARD_S = 60  # only stops a broken trigger from hanging the suite
# The documented static rate table the function ships (data, not the transform's code).
USD_PER_UNIT: dict[str, Decimal] = runpy.run_path(str(REPO / "lambda_functions/order_transform/rates.py"))[
    "USD_PER_UNIT"
]


def shipped_dag(dag_id: str) -> Any:
    """The DAG as the dags folder defines it."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=REPO / "dags" / f"{dag_id}.py", safe_mode=False).dags[dag_id]


def deploy_order_transform(stack: PipelineStack, folder: Path) -> str:
    """Deploy ``order_transform`` (alias ``live``) through the demo's deploy path; returns the version."""
    from include.demo_infrastructure import deploy_functions

    link = folder / "order_transform"
    if not link.exists():
        link.symlink_to(REPO / "lambda_functions" / "order_transform")
    return deploy_functions("aws_default", folder)["order_transform"]


def seed_orders(
    stack: PipelineStack,
    start: datetime,
    count: int,
    *,
    seed: int,
    invalid_share: float = 0.2,
    hours: int = 1,
) -> list[SampleOrder]:
    """Write generated orders to the ``orders`` table, as the order service would."""
    orders = generate_orders(
        count, start=start, hours=hours, invalid_share=invalid_share, anomaly_share=0.03, seed=seed
    )
    write_orders(_orders_table(stack), orders)
    return orders


def write_raw_orders(stack: PipelineStack, items: list[dict[str, Any]]) -> None:
    """Store orders exactly as given (keys stamped by the caller), bad ones included."""
    write_orders(_orders_table(stack), [SampleOrder(item, None) for item in items])


def _orders_table(stack: PipelineStack) -> Any:
    import boto3

    return boto3.resource(
        "dynamodb",
        endpoint_url=stack.aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(settings.ORDERS_TABLE)


def expected_usd_total(order: SampleOrder) -> Decimal:
    """An order's USD total computed here: qty * unit price * rate, each line rounded half-even to cents."""
    rate = USD_PER_UNIT[order.item["currency"].upper()]
    return sum(
        (
            (Decimal(str(line["qty"])) * Decimal(str(line["unit_price"])) * rate).quantize(
                CENT, ROUND_HALF_EVEN
            )
            for line in order.item["items"]
        ),
        Decimal("0.00"),
    )


def hour_rows(table_name: str, window: Window, dag_id: str = ORDER_DAG) -> list[dict[str, Any]]:
    """The rows of one hour in a fact table (its run key's rows)."""
    from pyiceberg.expressions import And, EqualTo

    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    row_filter = And(EqualTo("dag_id", dag_id), EqualTo("interval_start", window.start.isoformat()))
    return read_table(ensure_table(table_name), row_filter=row_filter).to_pylist()


def table_rows(table_name: str) -> list[dict[str, Any]]:
    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.query import read_table

    return read_table(ensure_table(table_name)).to_pylist()


def drain(stack: PipelineStack, inbox: str) -> list[dict[str, Any]]:
    """Receive and delete every message of a notification inbox (``notifications_inbox_url``...)."""
    sqs = stack.client("sqs")
    url = stack.resources[inbox]
    envelopes = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return envelopes


def sent_by(envelopes: Iterable[dict[str, Any]], dag_id: str) -> list[dict[str, Any]]:
    """The envelopes a DAG published (by its ``dag_id`` message attribute)."""
    return [envelope for envelope in envelopes if attributes(envelope).get("dag_id") == dag_id]


def attributes(envelope: dict[str, Any]) -> dict[str, str]:
    return {name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()}


def xcom(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def airflow(*argv: str) -> subprocess.CompletedProcess:
    """The ``airflow`` CLI in a subprocess, with this session's environment (AIRFLOW_HOME, connections)."""
    return subprocess.run([AIRFLOW, *argv], capture_output=True, text=True, env=dict(os.environ), timeout=600)


def airflow_in_process(*argv: str) -> None:
    """An ``airflow`` CLI command run in this process: the binary's parser and command function, without
    its ~5 s of start-up per call. (``tasks test`` sets AIRFLOW_TEST_MODE for the process: undone here.)"""
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(list(argv))
    test_mode = os.environ.get("AIRFLOW_TEST_MODE")
    try:
        args.func(args)
    finally:
        if test_mode is None:
            os.environ.pop("AIRFLOW_TEST_MODE", None)
        else:
            os.environ["AIRFLOW_TEST_MODE"] = test_mode


def task_states(dag_id: str, run_id: str) -> dict[str, str]:
    """Each task instance's state in the metadata DB (``airflow tasks test`` exits 0 when a task fails)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
        return {task_id: str(state) for task_id, state in rows}


class JsonStateStore:
    """The two calls a watcher trigger makes on Airflow's asset state store (``aget``/``aset``), values
    kept as JSON text like the metadata DB keeps them; ``next_save()`` resolves on the next write."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self._waiters: list[asyncio.Future] = []

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(json.loads(self.values[key]))

    def next_save(self) -> asyncio.Future:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter


async def start(trigger: Any, store: JsonStateStore) -> tuple[AsyncIterator, asyncio.Future]:
    """Run the trigger until its first checkpoint is saved (it is reading); returns the pending next event."""
    trigger.asset_state_store = store
    events = trigger.run()
    saved = store.next_save()
    pending = asyncio.ensure_future(anext(events))
    await asyncio.wait_for(asyncio.shield(saved), HANG_GUARD_S)
    return events, pending


async def stop(events: AsyncIterator, store: JsonStateStore) -> dict[str, Any]:
    """Resume after an event as the triggerer does, wait for the checkpoint it saves, then stop."""
    saved = store.next_save()
    resumed = asyncio.ensure_future(anext(events))
    checkpoint = await asyncio.wait_for(asyncio.shield(saved), HANG_GUARD_S)
    resumed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await resumed
    return checkpoint
