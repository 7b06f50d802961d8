"""Cold and warm invoke latency of the local Lambda runtime, against calling the handler in-process.

Run: .venv/bin/python benchmarks/local_runtime.py [--calls 200]
Targets (issue 3): warm <= 5 ms median round trip, cold <= 200 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

from botocore.config import Config

from lambdapipe_local import LocalAws

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

from tests.support.local_stack import PROBE_FUNCTIONS, zip_folder  # noqa: E402

EVENT = {"order_id": "o-1", "items": [{"sku": "A", "qty": 2}]}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def in_process_baseline(calls: int) -> list[float]:
    spec = importlib.util.spec_from_file_location("probe", PROBE_FUNCTIONS / "python_probe" / "probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        probe.echo(json.loads(json.dumps(EVENT)), None)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def invoke_samples(aws: LocalAws, client, name: str, calls: int, cold: bool) -> list[float]:
    payload = json.dumps(EVENT).encode()
    client.invoke(FunctionName=name, Payload=payload)  # create the environment / warm the client
    samples = []
    for _ in range(calls):
        if cold:
            aws.stop_idle_environments()
        started = time.perf_counter()
        response = client.invoke(FunctionName=name, Payload=payload)
        response["Payload"].read()
        samples.append((time.perf_counter() - started) * 1000)
        assert "FunctionError" not in response
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    rows = [("in-process handler call (baseline)", in_process_baseline(args.calls))]
    with LocalAws() as aws:
        role = aws.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = aws.client("lambda", config=Config(retries={"max_attempts": 0}, tcp_keepalive=True))
        for name, runtime, handler, folder in (
            ("py-echo", "python3.11", "probe.echo", "python_probe"),
            ("node-echo", "nodejs20.x", "index.echo", "node_probe"),
        ):
            client.create_function(
                FunctionName=name,
                Runtime=runtime,
                Role=role,
                Handler=handler,
                Code={"ZipFile": zip_folder(PROBE_FUNCTIONS / folder)},
            )
            rows.append(
                (
                    f"{name} warm invoke (boto3 round trip)",
                    invoke_samples(aws, client, name, args.calls, False),
                )
            )
            rows.append(
                (
                    f"{name} cold invoke (boto3 round trip)",
                    invoke_samples(aws, client, name, args.calls, True),
                )
            )
    load = os.getloadavg()
    print(
        f"{args.calls} calls each; machine: {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"{'case':<44} {'median ms':>10} {'p95 ms':>10} {'x baseline':>11}")
    baseline = statistics.median(rows[0][1])
    for label, samples in rows:
        median = statistics.median(samples)
        print(f"{label:<44} {median:>10.3f} {percentile(samples, 0.95):>10.3f} {median / baseline:>11.0f}")
    print("targets: warm <= 5 ms median, cold <= 200 ms median")


if __name__ == "__main__":
    sys.exit(reported(main))
