"""The chaos run's checker: what the pipelines left behind, read without the pipelines' own code.

Plain pyiceberg scans of the tables, boto3 listings of S3 and the SNS inbox queues, the DAG runs from
the REST API and the local stack's own call counters: a bug in the pipeline code cannot hide itself
by also being in the checker. Each invariant counts its violations; the run passes when ``lost``,
``duplicated`` and ``notifications_extra`` are 0.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

NAMESPACE = "lambdapipe"
WAREHOUSE = "s3://lambdapipe-tables/warehouse"
# The shipped pipelines' fan-outs: function -> the LambdaMapOperator task that invokes it.
MAPPED_TASKS = {"image_resize": "resize_images", "order_transform": "transform_orders"}
PIPELINE_BUCKET = "lambdapipe-pipeline"
MAP_PREFIX = "lambdapipe/map/"


@dataclass
class Findings:
    """Counts per invariant, and a few examples of each violation for the report."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def violation(self, kind: str, example: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(example)

    @property
    def lost(self) -> int:
        return self.counts["upload_lost"] + self.counts["order_lost"] + self.counts["summary_missing"]

    @property
    def duplicated(self) -> int:
        return (
            self.counts["upload_duplicated"] + self.counts["order_duplicated"] + self.counts["ledger_extra"]
        )

    @property
    def notifications_extra(self) -> int:
        return self.counts["summary_extra"]


def table_rows(env: dict[str, str], table: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every row of a table (the chosen columns), scanned with pyiceberg's SqlCatalog directly."""
    from pyiceberg.catalog.sql import SqlCatalog

    uri = env.get("AIRFLOW__LAMBDAPIPE__TABLES_CATALOG_URI") or (
        f"sqlite:///{env['AIRFLOW_HOME']}/lambdapipe/catalog.db"
    )
    catalog = SqlCatalog(
        NAMESPACE,
        uri=uri,
        warehouse=WAREHOUSE,
        **{
            "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
            "s3.endpoint": env["AWS_ENDPOINT_URL"],
            "s3.region": env["AWS_DEFAULT_REGION"],
            "s3.access-key-id": env["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": env["AWS_SECRET_ACCESS_KEY"],
        },
    )
    if not catalog.table_exists(f"{NAMESPACE}.{table}"):
        return []
    return catalog.load_table(f"{NAMESPACE}.{table}").scan(selected_fields=columns).to_arrow().to_pylist()


def aws_client(env: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def check_uploads(env: dict[str, str], uploaded: list[dict[str, Any]], findings: Findings) -> None:
    """Every upload has exactly one ``uploads`` row; nothing in incoming/ is without one."""
    rows = table_rows(env, "uploads", ("bucket", "key", "etag", "status"))
    per_object = Counter((row["bucket"], row["key"], row["etag"]) for row in rows)
    for upload in uploaded:
        count = per_object[(upload["bucket"], upload["key"], upload["etag"])]
        if count == 0:
            findings.violation("upload_lost", upload["key"])
        elif count > 1:
            findings.violation("upload_duplicated", f"{upload['key']} ({count} rows)")
    s3 = aws_client(env, "s3")
    for bucket in {upload["bucket"] for upload in uploaded}:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="incoming/"):
            for obj in page.get("Contents", []):
                if (bucket, obj["Key"], obj["ETag"].strip('"')) not in per_object:
                    findings.violation("upload_lost", f"{obj['Key']} (in incoming/ without a row)")
        # A recorded object moves out of incoming/ (processed/ or quarantine/); it is never deleted.
        kept = {
            obj["Key"].split("/", 1)[1]
            for prefix in ("incoming/", "processed/", "quarantine/")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        }
        for upload in uploaded:
            if upload["bucket"] == bucket and upload["key"].split("/", 1)[1] not in kept:
                findings.violation("upload_lost", f"{upload['key']} (the object is gone from the bucket)")
    findings.figures["uploads rows by status"] = dict(Counter(row["status"] for row in rows))


def check_orders(env: dict[str, str], order_ids: list[str], findings: Findings) -> None:
    """Every order is in ``orders`` or ``order_rejects``, exactly once."""
    facts = Counter(row["order_id"] for row in table_rows(env, "orders", ("order_id",)))
    rejects = Counter(row["order_id"] for row in table_rows(env, "order_rejects", ("order_id",)))
    for order_id in order_ids:
        count = facts[order_id] + rejects[order_id]
        if count == 0:
            findings.violation("order_lost", order_id)
        elif count > 1:
            findings.violation("order_duplicated", f"{order_id} ({count} rows)")
    findings.figures["orders rows / rejects"] = f"{sum(facts.values())} / {sum(rejects.values())}"


def check_summaries(
    env: dict[str, str], inbox_url: str, runs: list[dict[str, Any]], findings: Findings
) -> None:
    """Every finished DAG run of the pipelines sent exactly one summary (``run_id`` message attribute)."""
    sqs = aws_client(env, "sqs")
    sent: Counter = Counter()
    while messages := sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            envelope = json.loads(message["Body"])
            attributes = {
                name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()
            }
            if attributes.get("kind") == "summary":
                sent[(attributes.get("dag_id"), attributes.get("run_id"))] += 1
            sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
    for run in runs:
        count = sent[(run["dag_id"], run["dag_run_id"])]
        if count == 0:  # a failed run counts too: it never got to say what it did
            findings.violation("summary_missing", f"{run['dag_id']} {run['dag_run_id']} ({run['state']})")
        elif count > 1:
            findings.violation("summary_extra", f"{run['dag_id']} {run['dag_run_id']} ({count} sent)")
    findings.figures["summaries sent"] = sum(sent.values())


def check_invocations(env: dict[str, str], calls: Any, findings: Findings) -> None:
    """``lambda_invocations`` against the local stack's counters; executions that ran more than once.

    An invoke answered by an injected throttle or function error never ran the function; every other
    invoke did. A batch that ran more than once shows as executions above the distinct batches that
    left a result line.
    """
    ledger = Counter(
        row["function_name"] for row in table_rows(env, "lambda_invocations", ("function_name",))
    )
    s3 = aws_client(env, "s3")
    for function in MAPPED_TASKS:
        key = f"lambda:Invoke:{function}"
        executions = calls.calls.get(key, 0) - calls.faults_injected.get(key, 0)
        batches, retried_tasks = _distinct_batches(s3, function)
        invokes = calls.calls.get(key, 0)
        findings.figures[f"{function}: invokes / executions / ledger rows"] = (
            f"{invokes} / {executions} / {ledger[function]}"
        )
        # Every invoke a task made is a ledger row, but those in flight when their task was killed.
        if ledger[function] > invokes:
            findings.violation("ledger_extra", f"{function}: {ledger[function]} rows for {invokes} invokes")
        elif ledger[function] < invokes:
            findings.counts["ledger_rows_missing"] += invokes - ledger[function]
        reexecuted = max(0, executions - batches)
        findings.counts["reexecuted"] += reexecuted
        if reexecuted:
            findings.examples.setdefault("reexecuted", []).append(
                f"{function}: {reexecuted} (batches invoked again by a task retry after a kill or a "
                f"timed-out invoke; {retried_tasks} task instance(s) with results in several tries)"
            )


def _distinct_batches(s3: Any, function: str) -> tuple[int, int]:
    """(batches with a result line, task instances whose results span several tries) for ``function``.

    Layout ``lambdapipe/map/<dag>/<run>/<task>/<map_index>/results/try-NNN-PPPPP.jsonl``.
    """
    task_id = MAPPED_TASKS[function]
    batches: set[tuple[str, int]] = set()
    tries: dict[str, set[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=PIPELINE_BUCKET, Prefix=MAP_PREFIX):
        for obj in page.get("Contents", []):
            location, _, part = obj["Key"].partition("/results/")
            if not part or location.split("/")[-2] != task_id:
                continue
            body = s3.get_object(Bucket=PIPELINE_BUCKET, Key=obj["Key"])["Body"].read()
            batches.update(
                (location, json.loads(line)["batch"]) for line in body.splitlines() if line.strip()
            )
            tries.setdefault(location, set()).add(part.split("-")[1])
    return len(batches), sum(1 for parts in tries.values() if len(parts) > 1)
