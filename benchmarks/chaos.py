"""Chaos run: both shipped pipelines at volume under injected AWS faults and process kills, then a check.

One command starts the real stack (``scripts/devstack.py``: local AWS, scheduler, dag-processor,
triggerer, API server; LocalExecutor on SQLite, or ``--celery`` on Postgres + Redis with two
workers), seeds ``orders`` (2% invalid) over the last ``--hours`` hours, which the scheduler runs
hour by hour, and uploads images (5% bad files) in waves while the S3 watcher starts runs. Meanwhile
the local stack injects 20% Lambda throttles, 5% function errors, 5% S3 5xx, 5% DynamoDB throughput
errors and latency spikes (``--calm``: none, the baseline), and ``chaos_monkey`` SIGKILLs task
processes mid fan-out, the triggerer (mid deferred fan-out with ``--deferrable``, and while it
watches the stream and the queue), the scheduler and a Celery worker. Once every run ended and a
final reconcile run swept ``incoming/``, ``chaos_checks`` reads the tables, S3, the SNS inbox and the
stack's counters on its own and prints a table; the last line is
``lost=N duplicated=N notifications_extra=N reexecuted=N``. The exit status is 1 when an invariant
fails. Seeded: the same ``--seed`` gives the same data, faults and kill schedule.

Full scale (``--scale 1``): 10,000 uploads and 100,000 orders. ``make chaos`` runs it in both modes.

Run: .venv/bin/python benchmarks/chaos.py [--scale 0.01] [--celery] [--deferrable] [--calm] [--seed 7]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "benchmarks")]

import chaos_checks  # noqa: E402
import devstack  # noqa: E402
from airflow_api import AirflowApi  # noqa: E402
from chaos_monkey import ChaosMonkey  # noqa: E402
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

from lambdapipe_local.admin.admin_client import LocalAwsAdmin  # noqa: E402

FULL_UPLOADS, FULL_ORDERS = 10_000, 100_000
BAD_UPLOAD_SHARE, INVALID_ORDER_SHARE = 0.05, 0.02
UPLOADS_DAG, ORDERS_DAG = "s3_upload_processing", "order_analytics"
POSTGRES = "postgresql+psycopg2://lambdapipe:lambdapipe@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379"
ACTIVE = ("queued", "running")


@dataclasses.dataclass(frozen=True)
class Plan:
    uploads: int
    orders: int
    hours: int
    seed: int
    celery: bool
    deferrable: bool
    calm: bool
    waves: int
    kill_every_s: float
    kills_per_kind: int
    timeout_s: float

    @property
    def kill_kinds(self) -> list[str]:
        kinds = ["task_mid_fanout", "triggerer", "scheduler"]
        if self.deferrable:
            kinds.append("triggerer_mid_fanout")
        if self.celery:
            kinds.append("celery_worker")
        return kinds


def parse_plan(argv: list[str] | None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of 10,000 uploads / 100,000 orders")
    parser.add_argument("--hours", type=int, default=3, help="hours the orders spread over (one run each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--celery", action="store_true", help="CeleryExecutor on Postgres + Redis, 2 workers")
    parser.add_argument("--deferrable", action="store_true", help="fan-outs run in the triggerer")
    parser.add_argument("--calm", action="store_true", help="no faults, no kills: the baseline")
    parser.add_argument("--waves", type=int, default=5, help="upload waves, 20 s apart")
    parser.add_argument("--kill-every", type=float, default=30, help="mean seconds between kills")
    parser.add_argument("--kills-per-kind", type=int, default=2, help="kills of each kind")
    parser.add_argument("--timeout", type=float, default=5400, help="seconds to wait for every run to end")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1 or args.hours < 1 or args.waves < 1:
        parser.error("--scale must be in (0, 1], --hours and --waves at least 1")
    return Plan(
        uploads=max(20, round(FULL_UPLOADS * args.scale)),
        orders=max(100, round(FULL_ORDERS * args.scale)),
        hours=args.hours,
        seed=args.seed,
        celery=args.celery,
        deferrable=args.deferrable,
        calm=args.calm,
        waves=args.waves,
        kill_every_s=args.kill_every,
        kills_per_kind=args.kills_per_kind,
        timeout_s=args.timeout,
    )


def settings_for(plan: Plan, home: Path, catchup_from: datetime) -> devstack.Settings:
    environment = {
        "LAMBDAPIPE_ORDER_ANALYTICS_CATCHUP_FROM": catchup_from.isoformat(),
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": str(plan.deferrable),
        # A killed task is failed and retried after a minute of silence, not Airflow's default five.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        # A killed scheduler takes its LocalExecutor tasks with it; they stay `running` until the next
        # scheduler resets them as orphans, every 5 minutes by default.
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
    }
    settings = devstack.Settings(
        home=home,
        api_port=free_port(),
        aws_port=free_port(),
        extra_environment=tuple(environment.items()),
        demo_data=False,
    )
    if not plan.celery:
        return settings
    database = f"chaos_{uuid.uuid4().hex[:10]}"
    _postgres(f"CREATE DATABASE {database}")
    return dataclasses.replace(
        settings,
        executor="CeleryExecutor",
        database_url=f"{POSTGRES}/{database}",
        tables_catalog_url=f"{POSTGRES}/{database}",
        broker_url=f"{REDIS}/{_free_redis_database()}",
        celery_workers=2,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres(statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(POSTGRES.replace("postgresql+psycopg2://", "postgresql://") + "/lambdapipe")
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _free_redis_database() -> int:
    import redis

    client = redis.Redis("127.0.0.1", 6379)
    count = int(client.config_get("databases")["databases"])
    return next(
        number for number in range(count - 1, 0, -1) if not redis.Redis("127.0.0.1", 6379, db=number).dbsize()
    )


def seed_orders(env: dict[str, str], plan: Plan, first_hour: datetime) -> list[str]:
    """The orders of ``plan.hours`` hours, written to DynamoDB before the DAGs run; their ids."""
    from include.sample_orders import generate_orders, write_orders

    resource = boto3.resource(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    orders = generate_orders(
        plan.orders, start=first_hour, hours=plan.hours, invalid_share=INVALID_ORDER_SHARE, seed=plan.seed
    )
    write_orders(resource.Table("orders"), orders)
    return [order.item["order_id"] for order in orders]


def upload_waves(env: dict[str, str], plan: Plan) -> Iterator[list[dict[str, Any]]]:
    """Upload the images (5% bad files) in ``plan.waves`` waves; yields each wave's uploads."""
    from include.sample_uploads import make_samples, upload_samples

    s3 = chaos_checks.aws_client(env, "s3")
    bad_count = round(plan.uploads * BAD_UPLOAD_SHARE)
    good = make_samples(plan.uploads - bad_count, seed=plan.seed, max_side=200, bad=False)
    bad = [
        dataclasses.replace(sample, name=f"{index:05d}-{sample.name}")
        for index in range(0, bad_count, 4)
        for sample in make_samples(0, seed=plan.seed + index)
    ][:bad_count]
    samples = good + bad
    random.Random(plan.seed).shuffle(samples)
    size = -(-len(samples) // plan.waves)
    for wave in range(plan.waves):
        yield upload_samples(s3, samples[wave * size : (wave + 1) * size], prefix=f"chaos/wave-{wave}")


def install_faults(admin: LocalAwsAdmin, seed: int) -> None:
    admin.add_fault("lambda", "lambda_throttle", operation="Invoke", rate=0.20, seed=seed)
    admin.add_fault("lambda", "lambda_unhandled", operation="Invoke", rate=0.05, seed=seed + 1)
    admin.add_fault("s3", "s3_internal_error", rate=0.05, seed=seed + 2)
    admin.add_fault("dynamodb", "dynamodb_throughput", rate=0.05, seed=seed + 3)
    admin.add_fault("s3", latency_ms=1500, rate=0.01, seed=seed + 4)
    admin.add_fault("dynamodb", latency_ms=1500, rate=0.02, seed=seed + 5)


def wait_until_settled(api: AirflowApi, env: dict[str, str], plan: Plan, deadline: float) -> None:
    """Until the scheduled order runs all ended, no run is active and no notification waits on the queue.

    Messages the watcher received but whose run never started (the triggerer was killed before it
    registered the event) stay hidden for the watcher's 15 minutes: not waited for, since the final
    reconcile run records their uploads, and they are reported.
    """
    sqs = chaos_checks.aws_client(env, "sqs")
    queue_url = sqs.get_queue_url(QueueName="upload-events")["QueueUrl"]
    quiet_since = None
    while time.monotonic() < deadline:
        runs = all_runs(api)
        scheduled = [run for run in runs if run["dag_id"] == ORDERS_DAG and run["run_type"] == "scheduled"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        pending = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        quiet = (
            # The run ending at the first hour (empty), then one per hour.
            len([run for run in scheduled if run["state"] not in ACTIVE]) >= plan.hours + 1
            and not [run for run in runs if run["state"] in ACTIVE]
            and pending == 0
        )
        quiet_since = (quiet_since or time.monotonic()) if quiet else None
        if quiet_since and time.monotonic() - quiet_since > 20:
            return
        time.sleep(5)
    raise TimeoutError(f"runs still active or messages pending after {plan.timeout_s:.0f} s")


def held_notifications(env: dict[str, str]) -> int:
    sqs = chaos_checks.aws_client(env, "sqs")
    queue_url = sqs.get_queue_url(QueueName="upload-events")["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def has_tasks(api: AirflowApi, run: dict[str, Any]) -> bool:
    """False for the scheduled run ending at the first hour: Airflow gives it no task (nothing to send)."""
    path = f"/dags/{run['dag_id']}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}/taskInstances"
    return api.get(path)["total_entries"] > 0


def all_runs(api: AirflowApi) -> list[dict[str, Any]]:
    """Every run of both pipelines (the API returns at most 100 per page)."""
    runs = []
    for dag_id in (UPLOADS_DAG, ORDERS_DAG):
        dag_runs: list[dict[str, Any]] = []
        while page := api.get(f"/dags/{dag_id}/dagRuns?limit=100&offset={len(dag_runs)}")["dag_runs"]:
            dag_runs += page
        runs += dag_runs
    return runs


@contextlib.contextmanager
def chaos_stack(
    plan: Plan, home: Path, catchup_from: datetime
) -> Iterator[tuple[devstack.Stack, AirflowApi]]:
    settings = settings_for(plan, home, catchup_from)
    try:
        with devstack.running_stack(settings) as stack:
            api = AirflowApi(settings)
            infrastructure = subprocess.run(
                [sys.executable, "include/demo_infrastructure.py"],
                cwd=REPO,
                env=stack.env,
                capture_output=True,
            )
            if infrastructure.returncode:
                raise RuntimeError(infrastructure.stderr.decode()[-3000:])
            api.wait_for_dags({UPLOADS_DAG, ORDERS_DAG}, timeout=240)
            yield stack, api
    finally:
        if settings.database_url:
            _postgres(f"DROP DATABASE IF EXISTS {settings.database_url.rsplit('/', 1)[1]} WITH (FORCE)")


def run(plan: Plan, home: Path) -> int:
    first_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=plan.hours)
    started = time.monotonic()
    with chaos_stack(plan, home, first_hour) as (stack, api):
        env = stack.env
        admin = LocalAwsAdmin(env["AWS_ENDPOINT_URL"])
        order_ids = seed_orders(env, plan, first_hour)
        admin.reset_calls()  # the deploy's smoke tests invoked the functions: count the pipelines' only
        if not plan.calm:
            install_faults(admin, plan.seed)
        running_started = time.monotonic()
        for dag_id in (UPLOADS_DAG, ORDERS_DAG):
            api.unpause(dag_id)
        interval = (plan.kill_every_s / 2, plan.kill_every_s * 1.5)
        monkey = ChaosMonkey(stack, api, plan.kill_kinds, plan.seed, interval, plan.kills_per_kind)
        if not plan.calm:
            monkey.start()
        uploaded = []
        for wave in upload_waves(env, plan):
            uploaded += wave
            time.sleep(20)
        deadline = time.monotonic() + plan.timeout_s
        try:
            wait_until_settled(api, env, plan, deadline)
        except TimeoutError as error:
            print(f"chaos: {error}; checking what there is", flush=True)
        finally:
            if not plan.calm:
                monkey.stop()
            faults = {
                fault.rule.error or f"latency {fault.rule.service}": fault.hits for fault in admin.faults()
            }
            admin.clear_faults()
        reconcile = api.trigger(UPLOADS_DAG, {"reconcile": True})  # the safety net sweeps incoming/
        with contextlib.suppress(TimeoutError):
            api.wait_for_run(UPLOADS_DAG, reconcile, timeout=900)
            wait_until_settled(api, env, plan, time.monotonic() + 900)
        duration = time.monotonic() - running_started
        findings = chaos_checks.Findings()
        runs = [run for run in all_runs(api) if run["state"] not in ACTIVE and has_tasks(api, run)]
        chaos_checks.check_uploads(env, uploaded, findings)
        chaos_checks.check_orders(env, order_ids, findings)
        inbox = chaos_checks.aws_client(env, "sqs").get_queue_url(QueueName="pipeline-notifications-inbox")
        chaos_checks.check_summaries(env, inbox["QueueUrl"], runs, findings)
        chaos_checks.check_invocations(env, admin.calls(), findings)
        findings.figures["notifications still held (come back later)"] = held_notifications(env)
        report(plan, findings, faults, monkey, runs, duration, time.monotonic() - started)
    return 1 if findings.lost or findings.duplicated or findings.notifications_extra else 0


def report(
    plan: Plan,
    findings: chaos_checks.Findings,
    faults: dict[str, int],
    monkey: ChaosMonkey,
    runs: list[dict[str, Any]],
    duration_s: float,
    total_s: float,
) -> None:
    mode = ("CeleryExecutor (2 workers)" if plan.celery else "LocalExecutor") + (
        ", deferrable fan-outs" if plan.deferrable else ", fan-outs in the worker"
    )
    rows = [
        ("mode", mode),
        (
            "data",
            f"{plan.uploads} uploads ({BAD_UPLOAD_SHARE:.0%} bad), {plan.orders} orders over {plan.hours} h",
        ),
        ("pipelines ran (s)", f"{duration_s:.0f} (whole command {total_s:.0f})"),
        ("DAG runs by state", json.dumps(_count(run["state"] for run in runs))),
        ("faults injected", json.dumps(faults) if faults else "none (--calm)"),
        ("kills", json.dumps(dict(monkey.counts())) if monkey.kills else "none"),
        *((name, str(value)) for name, value in findings.figures.items()),
        *((f"violations: {kind}", str(count)) for kind, count in sorted(findings.counts.items())),
        *((f"e.g. {kind}", "; ".join(examples)) for kind, examples in sorted(findings.examples.items())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(
        f"lost={findings.lost} duplicated={findings.duplicated} "
        f"notifications_extra={findings.notifications_extra} reexecuted={findings.counts['reexecuted']}"
    )


def _count(values: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return counted


def main(argv: list[str] | None = None) -> int:
    plan = parse_plan(argv)
    home = Path(tempfile.mkdtemp(prefix="lambdapipe-chaos-"))
    status = 2
    try:
        status = run(plan, home / "airflow")
        return status
    finally:  # a failed run's logs and metadata database are what explain it
        if status == 0:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(
                f"chaos: kept {home} (Airflow home with its logs and database): remove it when done",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(reported(main))
