"""Fan-out at Step Functions scale: LambdaMapOperator vs the provider's mapped LambdaInvokeFunctionOperator.

One run, one local AWS stack, one real Airflow (scheduler + dag-processor + triggerer + API server,
LocalExecutor, SQLite, parallelism as ``make run``): N items through a handler that sleeps 100 ms,

  (a) ``LambdaMapOperator(max_concurrency=C)`` in one task,
  (b) ``LambdaInvokeFunctionOperator.partial(...).expand(payload=...)``: one task instance per item.

Prints both wall times (DAG run start to end), their ratio, and (a)'s efficiency against the latency
limit N x 100 ms / C. Targets (issue 5): ratio >= 20x, efficiency >= 80%.

Run: .venv/bin/python benchmarks/fanout.py [--items 1000] [--concurrency 50] [--map-only]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import devstack  # noqa: E402
from airflow_api import AirflowApi  # noqa: E402
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

HANDLER = "import time\n\ndef handler(event, context):\n    time.sleep(0.1)\n    return {'item': event}\n"
SLEEP_S = 0.1

DAGS = {
    "fanout_map.py": """
        from airflow.sdk import DAG, Param
        from lambdapipe.operators.lambda_map import LambdaMapOperator

        with DAG("fanout_map", schedule=None, params={"n": Param(1000, type="integer")},
                 tags=["benchmark"], default_args={"owner": "benchmark", "retries": 0}):
            LambdaMapOperator(
                task_id="map",
                function_name="sleep100",
                items="{{ range(params.n) | list | tojson }}",
                results_bucket="benchmark-results",
                max_concurrency=CONCURRENCY,
                progress_interval=5,
            )
    """,
    "fanout_expand.py": """
        import json
        from airflow.sdk import DAG, Param, task
        from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator

        with DAG("fanout_expand", schedule=None, params={"n": Param(1000, type="integer")},
                 tags=["benchmark"], default_args={"owner": "benchmark", "retries": 0},
                 max_active_tasks=64):
            @task
            def payloads(params=None):
                return [json.dumps(i) for i in range(params["n"])]

            LambdaInvokeFunctionOperator.partial(task_id="invoke", function_name="sleep100").expand(
                payload=payloads()
            )
    """,
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seconds(run: dict) -> float:
    start = datetime.fromisoformat(run["start_date"])
    end = datetime.fromisoformat(run["end_date"])
    return (end - start).total_seconds()


def _create_function(settings: devstack.Settings) -> None:
    import boto3

    kwargs = {
        "endpoint_url": settings.aws_url,
        "region_name": "us-east-1",
        "aws_access_key_id": devstack.AWS_KEY_ID,  # the stack checks signatures
        "aws_secret_access_key": devstack.AWS_SECRET,
    }
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    role = boto3.client("iam", **kwargs).create_role(RoleName="sleep100", AssumeRolePolicyDocument="{}")
    boto3.client("lambda", **kwargs).create_function(
        FunctionName="sleep100",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=30,
    )
    boto3.client("s3", **kwargs).create_bucket(Bucket="benchmark-results")


def _runtime_stats(settings: devstack.Settings) -> dict:
    with devstack.LOOPBACK_HTTP.open(
        urllib.request.Request(f"{settings.aws_url}/_lambdapipe/runtime")
    ) as response:
        return json.load(response)


def _run(api: AirflowApi, dag_id: str, items: int, timeout: float) -> tuple[float, dict]:
    run_id = api.trigger(dag_id, {"n": items})
    run = api.wait_for_run(dag_id, run_id, timeout)
    if run["state"] != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {run['state']}")
    return _seconds(run), run


def _map_summary(api: AirflowApi, run: dict) -> dict:
    """The LambdaMapOperator's XCom: the fan-out's own duration, excluding scheduling and task start-up."""
    run_id = urllib.parse.quote(run["dag_run_id"], safe="")
    entry = api.get(f"/dags/fanout_map/dagRuns/{run_id}/taskInstances/map/xcomEntries/return_value")
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=200, help="items of an unmeasured map run first")
    parser.add_argument(
        "--map-only", action="store_true", help="skip (b), the ~20 min part: for iterating on (a)"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lambdapipe-bench-fanout-"))
    dags = home / "dags"
    dags.mkdir()
    for name, source in DAGS.items():
        (dags / name).write_text(textwrap.dedent(source).replace("CONCURRENCY", str(args.concurrency)))
    settings = devstack.Settings(home=home, api_port=_free_port(), aws_port=_free_port(), dags_folder=dags)
    os.environ.update(settings.environment())
    try:
        measured = _measure(settings, args)
    except BaseException:
        print(f"failed: the stack's logs are kept in {settings.log_dir}", file=sys.stderr, flush=True)
        raise
    _print_table(args, *measured)
    shutil.rmtree(home, ignore_errors=True)  # kept only when something failed


def _measure(settings: devstack.Settings, args: argparse.Namespace) -> tuple:
    """Both cases on one stack: timings, the map's summary, runtime stats and load averages."""
    with devstack.running_stack(settings):
        _create_function(settings)
        api = AirflowApi(settings)
        api.wait_for_dags({"fanout_map", "fanout_expand"}, timeout=180)
        for dag_id in ("fanout_map", "fanout_expand"):
            api.unpause(dag_id)
        if args.warmup:
            warmup_s, _ = _run(api, "fanout_map", args.warmup, timeout=600)
            print(f"warm-up: map over {args.warmup} items in {warmup_s:.1f} s (execution environments start)")
        load_before = os.getloadavg()
        map_s, map_run = _run(api, "fanout_map", args.items, timeout=1800)
        summary = _map_summary(api, map_run)
        stats_after_map = _runtime_stats(settings)
        expand_started = time.monotonic()
        expand_s = None if args.map_only else _run(api, "fanout_expand", args.items, timeout=7200)[0]
        expand_elapsed = time.monotonic() - expand_started
        stats = _runtime_stats(settings)
    load_after = os.getloadavg()
    return map_s, summary, stats_after_map, expand_s, expand_elapsed, stats, load_before, load_after


def _print_table(
    args: argparse.Namespace,
    map_s: float,
    summary: dict,
    stats_after_map: dict,
    expand_s: float | None,
    expand_elapsed: float,
    stats: dict,
    load_before: tuple,
    load_after: tuple,
) -> None:
    limit_s = args.items * SLEEP_S / args.concurrency
    print()
    print(
        f"{args.items} items, handler sleeps {SLEEP_S * 1000:.0f} ms; {os.cpu_count()} cores; LocalExecutor parallelism 8"
    )
    print(f"{'case':<60} {'wall s':>9}")
    print(f"{'(a) LambdaMapOperator, max_concurrency ' + str(args.concurrency):<60} {map_s:>9.1f}")
    if expand_s is not None:
        print(f"{'(b) LambdaInvokeFunctionOperator.partial().expand()':<60} {expand_s:>9.1f}")
        print(f"ratio (b)/(a): {expand_s / map_s:.1f}x   (target >= 20x)")
    print(
        f"(a) efficiency vs the latency limit {limit_s:.1f} s: {limit_s / summary['duration_s']:.0%} of the "
        f"fan-out itself ({summary['duration_s']:.2f} s, {summary['invocations_per_s']:.0f} invocations/s; "
        f"target >= 80%), {limit_s / map_s:.0%} of the whole DAG run (scheduling and task start included)"
    )
    print(
        f"local execution environments: {stats_after_map['environments_created']} created by the end of (a), "
        f"{stats['environments_created']} in all; peak concurrent invocations {stats['peak_concurrency']}"
    )
    print(f"load average: before (a) {load_before[0]:.2f}, at the end {load_after[0]:.2f} (1 min)")
    if expand_s is not None:
        print(f"(b) measured from trigger: {expand_elapsed:.1f} s")


if __name__ == "__main__":
    sys.exit(reported(main))
