"""A writer in its own process, for the kill and concurrency tests: ``python -m tests.integration.tables.writer_process``.

It loads the table, signals ``--ready`` (a file it creates), waits for ``--go`` (a file the test
creates), then commits ``--rows`` orders of ``--run-id`` and prints the CommitResult as JSON.
Waiting between load and commit lets a test make two writers start from the same snapshot.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lambdapipe.tables.catalog import ensure_table
from lambdapipe.tables.config import TablesConfig
from lambdapipe.tables.writer import airflow_snapshot_properties, append_rows, commit_run
from tests.support.order_rows import DAG_ID, order_table, run_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--catalog-uri", required=True)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--tag", default="")
    parser.add_argument("--mode", choices=("replace_run", "append"), default="replace_run")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()

    config = TablesConfig(catalog_uri=args.catalog_uri, warehouse=args.warehouse, aws_conn_id=None)
    table = ensure_table("orders", config)
    data = order_table(args.run_id, args.rows, tag=args.tag)
    if args.ready:
        args.ready.touch()
    while args.go and not args.go.exists():
        time.sleep(0.01)
    print("committing", flush=True)
    properties = airflow_snapshot_properties(DAG_ID, args.run_id, f"writer-{args.tag}", 1)
    if args.mode == "append":
        result = append_rows(table, data, properties)
    else:
        result = commit_run(table, data, run_key(args.run_id), properties)
    print(json.dumps(result.to_dict()), flush=True)


if __name__ == "__main__":
    main()
