"""An upload run's cost with an empty history and with a long one: the ratio shows the run is O(new).

Two reconcile runs of the shipped ``s3_upload_processing`` DAG (``dag.test()``, the real tasks:
collect_uploads, resize_images on ``image_resize:live``, record_uploads, the notifications), each on
``--new`` new images (4 of them bad files), on the local stack in its own process:

- empty: nothing recorded before;
- history: ``--rows`` rows already in ``uploads`` (in ``--commits`` commits) and ``--objects``
  processed objects in the bucket, each with its done claim, as earlier runs leave them.

Not timed (set-up): the stack, the DAG's infrastructure, a warm-up run with nothing to do (imports),
the seeding. It prints one line per run with each task's seconds, the ratio history / empty and the
machine's speed. Target (issue 18): ratio <= 1.2 for 100 new objects, 1,000,000 rows, 100,000 objects.

Run: .venv/bin/python benchmarks/history.py [--new 100] [--rows 1000000] [--objects 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from machine import reported  # noqa: E402

from tests.support.local_aws_process import local_aws_process  # noqa: E402

DAG_ID = "s3_upload_processing"
FIRST_RUN = datetime(2026, 5, 1, tzinfo=UTC)
TASKS = ("collect_uploads", "resize_images", "record_uploads", "notify_summary")
BAD_FILES = 4  # include/sample_uploads.py adds them to every sample set


def configure(url: str, home: Path) -> None:
    """The environment a deployment's workers have: set before anything imports Airflow."""
    aws_default = {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"endpoint_url": url, "region_name": "us-east-1"},
    }
    for inherited in [key for key in os.environ if key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AWS_"))]:
        del os.environ[inherited]  # a caller's connections or catalog must not leak into the benchmark
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",
            "AIRFLOW__LAMBDAPIPE__TABLES_CREATE_BUCKET": "true",
            "AIRFLOW__LAMBDAPIPE__TABLES_CATALOG_URI": f"sqlite:///{home / 'catalog.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_default),
        }
    )


def set_up(home: Path) -> None:
    from airflow.utils.db import initdb

    from include.demo_infrastructure import deploy_functions, ensure_infrastructure

    initdb()
    functions = home / "functions"
    functions.mkdir()
    (functions / "image_resize").symlink_to(REPO / "lambda_functions" / "image_resize")
    with contextlib.redirect_stdout(sys.stderr):
        ensure_infrastructure("aws_default", deploy=False)
        deploy_functions("aws_default", functions)


def upload_run(run_number: int) -> dict[str, float]:
    """One reconcile run of the shipped DAG; the wall time and each task's seconds."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=REPO / "dags" / f"{DAG_ID}.py", safe_mode=False).dags[DAG_ID]
    when = FIRST_RUN + timedelta(hours=run_number)
    clock = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        run = dag.test(run_after=when, logical_date=when, run_conf={"reconcile": True})
    wall = time.monotonic() - clock
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    if set(states.values()) != {"success"}:
        raise RuntimeError(f"run {run.run_id} did not succeed: {states}")
    seconds = {ti.task_id: (ti.end_date - ti.start_date).total_seconds() for ti in run.get_task_instances()}
    return {"wall": wall, **{task: seconds[task] for task in TASKS}}


def upload_new(count: int, prefix: str, seed: int) -> int:
    """``count`` new objects under ``incoming/<prefix>/`` (``BAD_FILES`` of them bad files)."""
    import boto3

    from include.sample_uploads import make_samples, upload_samples

    samples = make_samples(max(count - BAD_FILES, 0), seed=seed, max_side=300)
    return len(upload_samples(boto3.client("s3"), samples, prefix))


def seed_rows(rows: int, commits: int) -> None:
    """``rows`` rows in ``uploads``, as ``commits`` earlier runs committed them."""
    import pyarrow as pa

    from lambdapipe.tables.catalog import ensure_table
    from lambdapipe.tables.writer import airflow_snapshot_properties, commit_run

    table = ensure_table("uploads")
    schema = table.schema().as_arrow()
    per_commit = -(-rows // commits)
    processed_at = datetime(2026, 1, 1, tzinfo=UTC)
    for commit in range(commits):
        count = min(per_commit, rows - commit * per_commit)
        if count <= 0:
            break
        run_id = f"history_{commit:05d}"
        keys = [f"incoming/history/{commit:05d}/{index:07d}.jpg" for index in range(count)]
        columns = {
            "bucket": ["uploads"] * count,
            "key": keys,
            "etag": [f"{commit:05d}{index:027d}" for index in range(count)],
            "size": [2048] * count,
            "content_type": ["image/jpeg"] * count,
            "width": [256] * count,
            "height": [192] * count,
            "output_key": [key.replace("incoming/", "resized/", 1) for key in keys],
            "status": ["resized"] * count,
            "reason": [None] * count,
            "processed_at": [processed_at + timedelta(minutes=commit)] * count,
            "dag_id": [DAG_ID] * count,
            "run_id": [run_id] * count,
        }
        data = pa.table({field.name: columns[field.name] for field in schema}, schema=schema)
        commit_run(
            table,
            data,
            {"dag_id": DAG_ID, "run_id": run_id},
            airflow_snapshot_properties(DAG_ID, run_id, "record_uploads", 1),
        )


def seed_objects(objects: int) -> None:
    """``objects`` processed originals in ``processed/`` with their done claims, as runs leave them."""
    import boto3

    from lambdapipe.idempotency import IdempotencyStore
    from lambdapipe_demo import settings
    from lambdapipe_demo.uploads import Upload

    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    store = IdempotencyStore(dynamodb, settings.IDEMPOTENCY_TABLE)

    def put(index: int) -> Upload:
        key = f"incoming/done/{index:07d}.jpg"
        etag = s3.put_object(
            Bucket=settings.UPLOADS_BUCKET, Key=key.replace("incoming/", "processed/", 1), Body=b"jpeg"
        )["ETag"].strip('"')
        return Upload(settings.UPLOADS_BUCKET, key, etag)

    with ThreadPoolExecutor(max_workers=8) as pool:
        uploads = list(pool.map(put, range(objects)))
    items = [
        {
            "PutRequest": {
                "Item": {"pk": {"S": u.claim_key}, "owner": {"S": "history"}, "status": {"S": "done"}}
            }
        }
        for u in uploads
    ]
    batches = [items[start : start + 25] for start in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        request = {store.table_name: batch}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, batches))


def line(history_rows: int, objects: int, figures: dict[str, float]) -> str:
    tasks = "  ".join(f"{figures[task]:6.1f}" for task in TASKS)
    return f"{history_rows:>12,} {objects:>7}  {figures['wall']:7.1f}  {tasks}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=100, help="new objects per run (4 are bad files)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows already in uploads")
    parser.add_argument("--commits", type=int, default=100, help="commits those rows came in")
    parser.add_argument("--objects", type=int, default=100_000, help="processed objects in the bucket")
    args = parser.parse_args(argv)
    if args.new <= BAD_FILES:
        parser.error(f"--new must be above {BAD_FILES} (the bad files every sample set has)")

    home = Path(tempfile.mkdtemp(prefix="lambdapipe-bench-history-"))
    try:
        with local_aws_process(home / "local-aws") as url:
            configure(url, home)
            set_up(home)
            upload_run(0)  # warm-up: nothing to do, imports and first connections
            upload_new(args.new, "empty", seed=101)
            empty = upload_run(1)
            clock = time.monotonic()
            seed_rows(args.rows, args.commits)
            seed_objects(args.objects)
            seeding_s = time.monotonic() - clock
            upload_new(args.new, "history", seed=202)
            history = upload_run(2)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    header = "  ".join(f"{task[:6]:>6}" for task in TASKS)
    print(
        f"{'history rows':>12} {'new':>7}  {'run s':>7}  {header}   (seconds; seeding took {seeding_s:.0f} s)"
    )
    print(line(0, args.new, empty))
    print(line(args.rows, args.new, history))
    print(f"{args.rows:,} rows in uploads ({args.commits} commits), {args.objects:,} processed objects")
    print(f"ratio history / empty: {history['wall'] / empty['wall']:.2f} (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(reported(main))
