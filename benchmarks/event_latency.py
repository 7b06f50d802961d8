"""S3 put -> DAG run: the SQS AssetWatcher of s3_upload_processing against the provider's S3KeySensor.

One run, one real Airflow (scheduler + dag-processor + triggerer + API server, LocalExecutor, SQLite,
as ``make run``) and the local AWS stack, with the demo infrastructure (include/demo_infrastructure.py,
``image_resize`` deployed) and two DAGs: dags/s3_upload_processing.py as shipped (its watcher's
``waiter_delay`` is printed) and a one-task DAG with an ``S3KeySensor`` at its defaults (poke mode,
``poke_interval`` 60 s).

- Watcher: put one small image under ``incoming/bench/``; latency = the asset-triggered run's
  ``queued_at`` (the scheduler created it) - the put. Also shown: put -> asset event (``run_after``),
  and put -> run finished. The next put waits for that run to end plus a random 0-2 s, so each put
  creates its own run on an otherwise idle stack and lands at a random point of the poll cycle.
- S3KeySensor: a run per key; once its sensor task runs, the key is put after a random 0-60 s;
  latency = the sensor task's ``end_date`` - the put. ``--sensor-concurrency`` runs wait at once.

Run: .venv/bin/python benchmarks/event_latency.py [--samples 20] [--sensor-samples 20] (0: watcher only)
Target (issue 7): watcher median <= 5 s (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

import devstack  # noqa: E402
from airflow_api import AirflowApi, ApiError  # noqa: E402
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

PIPELINE = "s3_upload_processing"
SENSOR_DAG = "s3_key_sensor_latency"
SENSOR_BUCKET = "latency-bench"
TARGET_MEDIAN_S = 5.0
SENSOR_DAG_SOURCE = f'''
    """Benchmark only: the provider's S3KeySensor at its defaults, waiting for the key in params."""
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
    from airflow.sdk import DAG, Param

    with DAG("{SENSOR_DAG}", schedule=None, params={{"key": Param("", type="string")}}, max_active_runs=32,
             tags=["benchmark"], default_args={{"owner": "benchmark", "retries": 0}}):
        S3KeySensor(task_id="wait_for_key", bucket_name="{SENSOR_BUCKET}", bucket_key="{{{{ params.key }}}}")
'''


@dataclass
class Sample:
    put_at: float  # epoch seconds
    created_s: float  # put -> run created (watcher) or sensor task ended (sensor)
    event_s: float | None = None  # put -> asset event registered (watcher only)
    finished_s: float | None = None  # put -> run finished (watcher only)
    state: str = ""


def epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png(side: int = 64) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def set_up_aws(home: Path) -> object:
    """The demo infrastructure on the stack's local AWS (only image_resize deployed); returns an S3 client."""
    import boto3

    from include.demo_infrastructure import deploy_functions, ensure_infrastructure

    functions = home / "functions"
    functions.mkdir()
    (functions / "image_resize").symlink_to(REPO / "lambda_functions" / "image_resize")
    ensure_infrastructure(None, deploy=False)
    deploy_functions(None, functions)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=SENSOR_BUCKET)
    return s3


def watcher_settings() -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=REPO / "dags" / f"{PIPELINE}.py", safe_mode=False).dags[PIPELINE]
    ((_, asset),) = dag.timetable.asset_condition.iter_assets()
    kwargs = asset.watchers[0].trigger["kwargs"]
    return ", ".join(
        f"{name} {kwargs[name]}" for name in ("waiter_delay", "wait_time_seconds", "max_messages")
    )


def latest_asset_run(api: AirflowApi) -> dict | None:
    runs = api.get(f"/dags/{PIPELINE}/dagRuns?run_type=asset_triggered&order_by=-id&limit=1")["dag_runs"]
    return runs[0] if runs else None


def measure_watcher(api: AirflowApi, s3: object, index: int, timeout: float) -> Sample:
    before = (latest_asset_run(api) or {}).get("dag_run_id")
    put_at = time.time()
    s3.put_object(Bucket="uploads", Key=f"incoming/bench/upload-{index:03d}.png", Body=png())
    deadline = time.monotonic() + timeout
    while (run := latest_asset_run(api)) is None or run["dag_run_id"] == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no asset-triggered run {timeout:.0f} s after upload {index}")
        time.sleep(0.2)
    done = api.wait_for_run(PIPELINE, run["dag_run_id"], timeout=600)
    return Sample(
        put_at,
        epoch(run["queued_at"]) - put_at,
        event_s=epoch(run["run_after"]) - put_at,
        finished_s=epoch(done["end_date"]) - put_at,
        state=done["state"],
    )


def sensor_task(api: AirflowApi, run_id: str) -> dict:
    """The run's sensor task instance ({} until the scheduler has created it)."""
    path = f"/dags/{SENSOR_DAG}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/wait_for_key"
    try:
        return api.get(path)
    except ApiError as error:
        if error.status == 404:
            return {}
        raise


def measure_sensors(
    api: AirflowApi, s3: object, first: int, count: int, poke_interval: float
) -> list[Sample]:
    """``count`` sensor runs at once; each key is put a random 0-``poke_interval`` s after its sensor started."""
    keys = {
        api.trigger(SENSOR_DAG, {"key": f"bench/key-{first + n:03d}"}): f"bench/key-{first + n:03d}"
        for n in range(count)
    }
    put_plan: dict[str, float] = {}
    while len(put_plan) < count:
        for run_id in keys.keys() - put_plan.keys():
            if sensor_task(api, run_id).get("state") == "running":
                put_plan[run_id] = time.time() + random.uniform(0, poke_interval)
        time.sleep(0.5)
    put_at: dict[str, float] = {}
    for run_id, when in sorted(put_plan.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, when - time.time()))
        put_at[run_id] = time.time()
        s3.put_object(Bucket=SENSOR_BUCKET, Key=keys[run_id], Body=b"x")
    samples = []
    for run_id in keys:
        run = api.wait_for_run(SENSOR_DAG, run_id, timeout=poke_interval * 3 + 120)
        task = sensor_task(api, run_id)
        samples.append(Sample(put_at[run_id], epoch(task["end_date"]) - put_at[run_id], state=run["state"]))
    return samples


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> str:
    """A table row; a part not measured (``--sensor-samples 0``) gets dashes."""
    if not values:
        return f"{name:<46} {0:>3} {'-':>8} {'-':>8} {'-':>8} {'-':>8}"
    return (
        f"{name:<46} {len(values):>3} {statistics.median(values):>8.2f} {percentile(values, 0.95):>8.2f} "
        f"{min(values):>8.2f} {max(values):>8.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="watcher uploads measured (after 1 warm-up)")
    parser.add_argument("--sensor-samples", type=int, default=20, help="S3KeySensor runs measured")
    parser.add_argument("--sensor-concurrency", type=int, default=5, help="sensor runs waiting at once")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lambdapipe-bench-events-"))
    dags = home / "dags"
    dags.mkdir()
    (dags / f"{PIPELINE}.py").symlink_to(REPO / "dags" / f"{PIPELINE}.py")
    (dags / f"{SENSOR_DAG}.py").write_text(textwrap.dedent(SENSOR_DAG_SOURCE).lstrip())
    settings = devstack.Settings(home=home, api_port=free_port(), aws_port=free_port(), dags_folder=dags)
    os.environ.update(settings.environment())  # before anything imports Airflow
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    poke_interval = float(S3KeySensor(task_id="defaults", bucket_key="k", bucket_name="b").poke_interval)
    load = {"start": os.getloadavg()}
    try:
        watcher, sensor = measure(settings, args, poke_interval, load)
    except BaseException:
        print(f"failed: the stack's logs are kept in {settings.log_dir}", file=sys.stderr, flush=True)
        raise
    print_table(watcher, sensor, poke_interval, load)
    shutil.rmtree(home)  # kept only when something failed
    median = statistics.median(s.created_s for s in watcher)
    print(
        f"watcher median {median:.2f} s (target <= {TARGET_MEDIAN_S:.0f} s): {'OK' if median <= TARGET_MEDIAN_S else 'MISSED'}"
    )
    return 0 if median <= TARGET_MEDIAN_S else 1


def measure(
    settings: devstack.Settings, args: argparse.Namespace, poke_interval: float, load: dict
) -> tuple[list[Sample], list[Sample]]:
    """Both parts on one stack; the load average after each goes into ``load``."""
    with devstack.running_stack(settings):
        s3 = set_up_aws(settings.home)
        api = AirflowApi(settings)
        api.wait_for_dags({PIPELINE, SENSOR_DAG}, timeout=240)
        for dag_id in (PIPELINE, SENSOR_DAG):  # unpaused only now: the watcher's queue exists
            api.unpause(dag_id)
        warmup = measure_watcher(api, s3, 0, timeout=240)
        print(f"warm-up upload: run created {warmup.created_s:.1f} s after the put (not counted)", flush=True)
        watcher = []
        for index in range(1, args.samples + 1):
            time.sleep(random.uniform(0, 2))
            watcher.append(measure_watcher(api, s3, index, timeout=120))
            print(f"watcher {index}/{args.samples}: {watcher[-1].created_s:.2f} s", flush=True)
        load["watcher"] = os.getloadavg()
        sensor: list[Sample] = []
        while len(sensor) < args.sensor_samples:
            batch = min(args.sensor_concurrency, args.sensor_samples - len(sensor))
            sensor += measure_sensors(api, s3, len(sensor), batch, poke_interval)
            print(f"S3KeySensor {len(sensor)}/{args.sensor_samples}", flush=True)
        load["sensor"] = os.getloadavg()
    return watcher, sensor


def print_table(watcher: list[Sample], sensor: list[Sample], poke_interval: float, load: dict) -> None:
    print()
    print(
        f"{os.cpu_count()} cores; watcher: {watcher_settings()}; S3KeySensor poke_interval {poke_interval:.0f} s"
    )
    print(f"{'seconds after the S3 put':<46} {'n':>3} {'median':>8} {'p95':>8} {'min':>8} {'max':>8}")
    print(row("AssetWatcher (SQS): asset event registered", [s.event_s for s in watcher]))
    print(row("AssetWatcher (SQS): DAG run created", [s.created_s for s in watcher]))
    print(row("AssetWatcher (SQS): DAG run finished", [s.finished_s for s in watcher]))
    print(row("S3KeySensor (defaults): sensor task succeeded", [s.created_s for s in sensor]))
    states = {s.state for s in watcher} | {s.state for s in sensor}
    print(f"run states: {sorted(states)}")
    print(
        "load average (1/5/15 min): "
        + "; ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}/{v[2]:.2f}" for k, v in load.items())
    )


if __name__ == "__main__":
    sys.exit(reported(main))
