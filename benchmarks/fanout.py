"""Fan-out at Step Functions scale: LambdaMapOperator vs the provider's mapped LambdaInvokeFunctionOperator.

One run, one local AWS stack, one real Airflow (scheduler + dag-processor + triggerer + API server,
LocalExecutor, SQLite, parallelism as ``make run``): N items through a handler that sleeps S ms
(100 by default),

  (a) ``LambdaMapOperator(max_concurrency=C)`` in one task (``--deferrable``: in the triggerer),
  (b) ``LambdaInvokeFunctionOperator.partial(...).expand(payload=...)``: one task instance per item.

Prints both wall times (DAG run start to end), their ratio, and (a)'s efficiency against the latency
limit N x S / C, for the fan-out itself and for the whole DAG run, and (c) the floor: a DAG run whose
one task returns at once, Airflow's own cost, which caps the whole run's efficiency. Beside them, the CPU each
invocation cost (every process of the stack, split into the local Lambda service with its runtimes
and the rest), and with ``--deferrable`` how late a probe trigger sharing the triggerer woke up
while (a) ran (it sleeps 0.5 s again and again: a sensor's wake-up, measured in the triggerer).
Targets (issues 5, 18): ratio >= 20x; whole DAG run >= 80% for 1,000 x 100 ms at C=50 and >= 90% for
10,000 x 1 s at C=100, in both modes; the probe's wake-ups <= 2 s late.

Run: .venv/bin/python benchmarks/fanout.py [--items 1000] [--concurrency 50] [--sleep-ms 100]
     [--deferrable] [--map-only]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import devstack  # noqa: E402
from airflow_api import AirflowApi  # noqa: E402
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

HANDLER = "import os, time\n\ndef handler(event, context):\n    time.sleep(float(os.environ['SLEEP_S']))\n    return {'item': event}\n"
PROBE_INTERVAL_S = 0.5
FLOOR_RUNS = 3  # (c): Airflow's own cost of a DAG run, the median of a few
# In a folder of its own on the stack's PYTHONPATH: the triggerer imports triggers by class path.
PROBE = """
    import asyncio
    import statistics

    from airflow.sdk import BaseOperator
    from airflow.triggers.base import BaseTrigger, TriggerEvent


    class WakeProbeTrigger(BaseTrigger):
        \"\"\"Sleeps INTERVAL s again and again for ``duration`` s; reports how late each wake-up was.\"\"\"

        def __init__(self, duration):
            super().__init__()
            self.duration = duration

        def serialize(self):
            return ("fanout_probe.WakeProbeTrigger", {"duration": self.duration})

        async def run(self):
            loop = asyncio.get_running_loop()
            end, lags = loop.time() + self.duration, []
            while loop.time() < end:
                planned = loop.time() + INTERVAL
                await asyncio.sleep(INTERVAL)
                lags.append(loop.time() - planned)
            yield TriggerEvent({"wakeups": len(lags), "max_late_s": max(lags), "p50_late_s": statistics.median(lags)})


    class WakeProbe(BaseOperator):
        def __init__(self, duration, **kwargs):
            super().__init__(**kwargs)
            self.duration = duration

        def execute(self, context):
            self.defer(trigger=WakeProbeTrigger(self.duration), method_name="done")

        def done(self, context, event):
            return event
"""

DAGS = {
    "fanout_map.py": """
        from airflow.sdk import DAG, Param
        from lambdapipe.operators.lambda_map import LambdaMapOperator

        with DAG("fanout_map", schedule=None, params={"n": Param(1000, type="integer")},
                 tags=["benchmark"], default_args={"owner": "benchmark", "retries": 0}):
            LambdaMapOperator(
                task_id="map",
                function_name="sleeper",
                items="{{ range(params.n) | list | tojson }}",
                results_bucket="benchmark-results",
                max_concurrency=CONCURRENCY,
                progress_interval=5,
                deferrable=DEFERRABLE,
            )
    """,
    "fanout_probe.py": """
        from airflow.sdk import DAG
        from fanout_probe import WakeProbe

        with DAG("fanout_probe", schedule=None,
                 tags=["benchmark"], default_args={"owner": "benchmark", "retries": 0}):
            WakeProbe(task_id="probe", duration=PROBE_DURATION)
    """,
    "fanout_floor.py": """
        from airflow.sdk import DAG, task

        with DAG("fanout_floor", schedule=None,
                 tags=["benchmark"], default_args={"owner": "benchmark", "retries": 0}):
            @task
            def nothing():
                return None

            nothing()
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

            LambdaInvokeFunctionOperator.partial(task_id="invoke", function_name="sleeper").expand(
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


def _create_function(settings: devstack.Settings, sleep_s: float) -> None:
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
    role = boto3.client("iam", **kwargs).create_role(RoleName="sleeper", AssumeRolePolicyDocument="{}")
    boto3.client("lambda", **kwargs).create_function(
        FunctionName="sleeper",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=30,
        Environment={"Variables": {"SLEEP_S": str(sleep_s)}},
    )
    boto3.client("s3", **kwargs).create_bucket(Bucket="benchmark-results")


def _runtime_stats(settings: devstack.Settings) -> dict:
    with devstack.LOOPBACK_HTTP.open(
        urllib.request.Request(f"{settings.aws_url}/_lambdapipe/runtime")
    ) as response:
        return json.load(response)


def _run(api: AirflowApi, dag_id: str, conf: dict, timeout: float) -> tuple[float, dict]:
    run_id = api.trigger(dag_id, conf)
    run = api.wait_for_run(dag_id, run_id, timeout)
    if run["state"] != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {run['state']}")
    return _seconds(run), run


def _xcom(api: AirflowApi, dag_id: str, run: dict, task_id: str) -> dict:
    """A task's XCom (the map's summary: the fan-out's own duration, without scheduling and start-up)."""
    run_id = urllib.parse.quote(run["dag_run_id"], safe="")
    entry = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds the stack (this script's descendants) has used so far: (the local AWS service with
    its Lambda runtimes, every other process). Processes that ended count through their parent."""
    server: set[int] = set()
    spent: dict[int, float] = {}
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            spent[process.pid] = times.user + times.system + times.children_user + times.children_system
            if "lambdapipe local" in " ".join(process.cmdline()):
                server.add(process.pid)
                server.update(child.pid for child in process.children(recursive=True))
    in_server = sum(seconds for pid, seconds in spent.items() if pid in server)
    return in_server, sum(spent.values()) - in_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--sleep-ms", type=int, default=100, help="how long the handler sleeps (default 100)")
    parser.add_argument("--deferrable", action="store_true", help="(a) runs in the triggerer, beside a probe")
    parser.add_argument("--warmup", type=int, default=200, help="items of an unmeasured map run first")
    parser.add_argument(
        "--map-only", action="store_true", help="skip (b), the ~20 min part: for iterating on (a)"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lambdapipe-bench-fanout-"))
    dags, probe = home / "dags", home / "probe"
    dags.mkdir()
    probe.mkdir()
    limit_s = args.items * args.sleep_ms / 1000 / args.concurrency
    placeholders = {
        "CONCURRENCY": str(args.concurrency),
        "DEFERRABLE": str(args.deferrable),
        "PROBE_DURATION": f"{max(limit_s * 0.8, 10.0):.1f}",  # a wait of 1-2 s raced its own deferral (see docs)
    }
    for name, source in DAGS.items():
        text = textwrap.dedent(source)
        for placeholder, value in placeholders.items():
            text = text.replace(placeholder, value)
        (dags / name).write_text(text)
    (probe / "fanout_probe.py").write_text(textwrap.dedent(PROBE).replace("INTERVAL", str(PROBE_INTERVAL_S)))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(probe), os.environ.get("PYTHONPATH")]))
    settings = devstack.Settings(home=home, api_port=_free_port(), aws_port=_free_port(), dags_folder=dags)
    os.environ.update(settings.environment())
    try:
        measured = _measure(settings, args)
    except BaseException:
        print(f"failed: the stack's logs are kept in {settings.log_dir}", file=sys.stderr, flush=True)
        raise
    _print_table(args, limit_s, *measured)
    shutil.rmtree(home, ignore_errors=True)  # kept only when something failed


def _measure(settings: devstack.Settings, args: argparse.Namespace) -> tuple:
    """Both cases on one stack: timings, the map's summary, CPU, the probe, runtime stats and load."""
    with devstack.running_stack(settings):
        _create_function(settings, args.sleep_ms / 1000)
        api = AirflowApi(settings)
        api.wait_for_dags({"fanout_map", "fanout_expand", "fanout_probe", "fanout_floor"}, timeout=180)
        for dag_id in ("fanout_map", "fanout_expand", "fanout_probe", "fanout_floor"):
            api.unpause(dag_id)
        if args.warmup:
            warmup_s, _ = _run(api, "fanout_map", {"n": args.warmup}, timeout=600)
            print(f"warm-up: map over {args.warmup} items in {warmup_s:.1f} s (execution environments start)")
        floor_s = statistics.median(_run(api, "fanout_floor", {}, timeout=600)[0] for _ in range(FLOOR_RUNS))
        load_before = os.getloadavg()
        cpu_before = _cpu_seconds()
        map_run_id = api.trigger("fanout_map", {"n": args.items})
        probe_run_id = api.trigger("fanout_probe", {}) if args.deferrable else None
        map_run = api.wait_for_run("fanout_map", map_run_id, 3600)
        cpu_after = _cpu_seconds()
        if map_run["state"] != "success":
            raise RuntimeError(f"fanout_map run {map_run_id} ended {map_run['state']}")
        probe = None
        if probe_run_id:
            probe_run = api.wait_for_run("fanout_probe", probe_run_id, 600)
            probe = _xcom(api, "fanout_probe", probe_run, "probe") if probe_run["state"] == "success" else {}
        summary = _xcom(api, "fanout_map", map_run, "map")
        cpu = tuple(after - before for before, after in zip(cpu_before, cpu_after, strict=True))
        stats_after_map = _runtime_stats(settings)
        expand_started = time.monotonic()
        expand_s = None if args.map_only else _run(api, "fanout_expand", {"n": args.items}, timeout=7200)[0]
        expand_elapsed = time.monotonic() - expand_started
        stats = _runtime_stats(settings)
    load_after = os.getloadavg()
    return (
        _seconds(map_run),
        floor_s,
        summary,
        cpu,
        probe,
        stats_after_map,
        expand_s,
        expand_elapsed,
        stats,
        load_before,
        load_after,
    )


def _print_table(
    args: argparse.Namespace,
    limit_s: float,
    map_s: float,
    floor_s: float,
    summary: dict,
    cpu: tuple[float, float],
    probe: dict | None,
    stats_after_map: dict,
    expand_s: float | None,
    expand_elapsed: float,
    stats: dict,
    load_before: tuple,
    load_after: tuple,
) -> None:
    mode = "deferrable (in the triggerer)" if args.deferrable else "worker"
    print()
    print(
        f"{args.items} items, handler sleeps {args.sleep_ms} ms; {os.cpu_count()} cores; LocalExecutor "
        f"parallelism 8; (a) in {mode} mode"
    )
    print(f"{'case':<60} {'wall s':>9}")
    print(f"{'(a) LambdaMapOperator, max_concurrency ' + str(args.concurrency):<60} {map_s:>9.1f}")
    if expand_s is not None:
        print(f"{'(b) LambdaInvokeFunctionOperator.partial().expand()':<60} {expand_s:>9.1f}")
        print(f"ratio (b)/(a): {expand_s / map_s:.1f}x   (target >= 20x)")
    print(
        f"(a) efficiency vs the latency limit {limit_s:.1f} s: {limit_s / summary['duration_s']:.0%} of the "
        f"fan-out itself ({summary['duration_s']:.2f} s, {summary['invocations_per_s']:.0f} invocations/s), "
        f"{limit_s / map_s:.0%} of the whole DAG run (scheduling and task start included; targets >= 80% "
        "for 1,000 x 100 ms at 50, >= 90% for 10,000 x 1 s at 100)"
    )
    print(
        f"(c) floor: a DAG run whose one task returns at once takes {floor_s:.1f} s here (median of "
        f"{FLOOR_RUNS}), so no whole DAG run can reach more than {limit_s / (limit_s + floor_s):.0%} of "
        f"the limit {limit_s:.1f} s on this stack"
    )
    invocations = max(summary["invocations"], 1)
    print(
        f"(a) CPU per invocation: {sum(cpu) / invocations * 1000:.1f} ms in all, "
        f"{cpu[0] / invocations * 1000:.1f} ms in the local AWS service and its Lambda runtimes, "
        f"{cpu[1] / invocations * 1000:.1f} ms in Airflow's processes (the task or triggerer, scheduler, "
        f"API server...), over {summary['invocations']} invocations"
    )
    if probe is not None:
        late = (
            f"{probe['max_late_s']:.2f} s at most, median {probe['p50_late_s']:.3f} s" if probe else "failed"
        )
        print(
            f"(a) a probe trigger beside the map in the triggerer woke up {late} late over "
            f"{probe.get('wakeups', 0)} wake-ups every {PROBE_INTERVAL_S} s (target <= 2 s)"
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
