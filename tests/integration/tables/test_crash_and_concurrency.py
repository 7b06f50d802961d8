"""A writer killed mid-commit loses nothing that was committed; concurrent writers never lose a commit.

Writers run in their own processes (tests/integration/tables/writer_process.py) against the local stack's S3
and one SQLite catalog file. The kill lands at a chosen file of the commit: pyarrow uploads every
file as a multipart upload, which S3 makes visible at CompleteMultipartUpload; the local stack
holds that call (a latency fault) and the test SIGKILLs the writer while it waits.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambdapipe.tables.catalog import open_catalog
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.maintenance import find_orphan_files
from lambdapipe.tables.query import read_table
from lambdapipe.tables.writer import commit_run
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.order_rows import order_ids, order_table, run_key

REPO_ROOT = Path(__file__).resolve().parents[3]
ROWS = 200
FILE_WRITTEN = "CompleteMultipartUpload"  # the call that makes an uploaded file exist
HOLD_MS = 60_000  # far longer than the test: the held write never completes before the kill
WAIT_S = 60

pytestmark = pytest.mark.timeout(180)


def start_writer(config: TablesConfig, run_id: str, *args: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "tests.integration.tables.writer_process",
        "--catalog-uri",
        config.sql_uri,
        "--warehouse",
        config.warehouse,
        "--run-id",
        run_id,
        *args,
    ]
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> dict:
    stdout, stderr = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, stderr
    return json.loads(stdout.splitlines()[-1])


def wait_until(condition, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the writer exited before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def object_keys(aws: LocalAws, config: TablesConfig) -> set[str]:
    bucket, _, prefix = config.warehouse.removeprefix("s3://").partition("/")
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def files_written(aws: LocalAws) -> int:
    return aws.calls.snapshot()[f"s3:{FILE_WRITTEN}"]


@pytest.mark.parametrize("kill_at", ["first_file", "last_file"])
def test_writer_killed_mid_commit_leaves_the_previous_snapshot_readable_and_complete(
    kill_at: str, aws: LocalAws, tables_config: TablesConfig, orders
) -> None:
    commit_run(orders, order_table("r1", ROWS), run_key("r1"))
    commit_run(orders, order_table("r2", ROWS, tag="v1-"), run_key("r2"))
    before = files_written(aws)
    commit_run(orders, order_table("r2", ROWS, tag="v2-"), run_key("r2"))
    files_per_commit = files_written(aws) - before  # the killed commit has the same shape
    committed = order_ids(read_table(orders))
    snapshot_id = orders.metadata.current_snapshot_id
    keys_before = object_keys(aws, tables_config)

    # The first file is a data file; the last is the new table metadata, written just before the
    # catalog would point at it.
    kill_on = 1 if kill_at == "first_file" else files_per_commit
    if kill_on > 1:
        aws.faults.add(FaultRule(service="s3", operation=FILE_WRITTEN, latency_ms=1, count=kill_on - 1))
    aws.faults.add(FaultRule(service="s3", operation=FILE_WRITTEN, latency_ms=HOLD_MS, count=1))
    writer = start_writer(tables_config, "r2", "--rows", str(ROWS), "--tag", "v3-")
    wait_until(
        lambda: aws.calls.snapshot().delays_injected.get(f"s3:{FILE_WRITTEN}", 0) >= kill_on,
        writer,
        f"file {kill_on} of {files_per_commit} was being written",
    )
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    written_by_killed_writer = object_keys(aws, tables_config) - keys_before
    aws.faults.clear()

    table = open_catalog(tables_config).load_table(tables_config.identifier("orders"))
    assert writer.returncode == -signal.SIGKILL
    assert len(written_by_killed_writer) == kill_on - 1  # it was writing its commit, file by file
    assert table.metadata.current_snapshot_id == snapshot_id
    assert order_ids(read_table(table)) == committed
    # What it did write is unreferenced: orphan removal finds (and would delete) exactly that.
    orphans = find_orphan_files(table, older_than=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    assert {orphan.path for orphan in orphans} == {
        f"s3://{tables_config.warehouse_bucket}/{key}" for key in written_by_killed_writer
    }
    # The catalog is not wedged: the retried task commits normally.
    commit_run(table, order_table("r2", ROWS, tag="v3-"), run_key("r2"))
    assert order_ids(read_table(table)) == sorted(
        order_ids(order_table("r1", ROWS)) + order_ids(order_table("r2", ROWS, tag="v3-"))
    )


def start_pair(tmp_path: Path, config: TablesConfig, runs: list[tuple[str, str]], *args: str):
    """Two writers that both load the table, then commit at once (each waits for the other to load)."""
    go = tmp_path / "go"
    writers = []
    for run_id, tag in runs:
        ready = tmp_path / f"ready-{tag}"
        process = start_writer(
            config, run_id, "--rows", str(ROWS), "--tag", tag, "--ready", str(ready), "--go", str(go), *args
        )
        writers.append((process, ready))
    for process, ready in writers:
        wait_until(ready.exists, process, "the writer loaded the table")
    go.touch()
    return [finish(process) for process, _ in writers]


@pytest.mark.parametrize("mode", ["append", "replace_run"])
def test_two_processes_committing_different_runs_at_once_both_land(
    mode: str, tmp_path: Path, tables_config: TablesConfig, orders
) -> None:
    commit_run(orders, order_table("r0", ROWS), run_key("r0"))

    results = start_pair(tmp_path, tables_config, [("ra", "a"), ("rb", "b")], "--mode", mode)

    orders.refresh()
    assert [result["rows"] for result in results] == [ROWS, ROWS]
    assert order_ids(read_table(orders)) == sorted(
        order_ids(order_table("r0", ROWS))
        + order_ids(order_table("ra", ROWS, tag="a"))
        + order_ids(order_table("rb", ROWS, tag="b"))
    )


def test_two_processes_committing_one_run_key_at_once_leave_exactly_one_payload(
    tmp_path: Path, tables_config: TablesConfig, orders
) -> None:
    commit_run(orders, order_table("r1", ROWS, tag="old"), run_key("r1"))

    results = start_pair(tmp_path, tables_config, [("r1", "a"), ("r1", "b")])

    orders.refresh()
    # Both started from the same snapshot: the second to commit conflicted, planned again on the
    # first one's snapshot, and replaced its rows.
    assert sorted(result["attempts"] for result in results) == [1, 2]
    last_tag = "a" if results[0]["attempts"] == 2 else "b"
    assert order_ids(read_table(orders)) == order_ids(order_table("r1", ROWS, tag=last_tag))
    assert orders.metadata.current_snapshot_id == max(
        result["snapshot_id"] for result in results if result["attempts"] == 2
    )
