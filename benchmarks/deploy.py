"""What deploying each shipped function costs, measured in one run on one in-process local AWS stack.

Per function: build time with a cold and then a warm dependency cache (a temporary
LAMBDAPIPE_CACHE_DIR; uv's or pip's own wheel cache is left as it is), the first deploy (role,
function, version, smoke tests, alias), the no-op redeploy (time, write calls, bytes uploaded) and,
for comparison, the Amazon provider's ``LambdaCreateFunctionOperator`` on the same rerun: it uploads
the zip again and fails with ResourceConflictException. Bytes are counted from the server's view:
the request bodies it received for write calls.

Run: .venv/bin/python benchmarks/deploy.py
Target (issue 4): a no-op redeploy makes 0 write calls and uploads 0 bytes (exit 1 otherwise).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import reported  # noqa: E402  (benchmarks/, the script's folder)

from tests.support.aws_calls import is_write_call, write_calls  # noqa: E402

FUNCTIONS_DIR = REPO / "lambda_functions"
CODE_UPLOADS = ("lambda:CreateFunction", "lambda:UpdateFunctionCode")


class RequestBytes:
    """WSGI wrapper: request-body bytes the server received per ``service:Operation``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from lambdapipe_local.front.middleware import AWS_REQUEST_ENVIRON_KEY

        response = self.app(environ, start_response)
        request = environ.get(AWS_REQUEST_ENVIRON_KEY)  # set by the call counter; absent for admin calls
        if request is not None:
            with self._lock:
                self.received[request.key] += int(environ.get("CONTENT_LENGTH") or 0)
        return response

    def written(self) -> int:
        with self._lock:
            return sum(size for key, size in self.received.items() if is_write_call(key))

    def reset(self) -> None:
        with self._lock:
            self.received.clear()


@dataclass
class Row:
    name: str
    runtime: str
    build_cold_s: float
    build_warm_s: float
    zipped_bytes: int
    deploy_s: float
    deploy_uploaded: int
    smoke_tests: int
    noop_s: float
    noop_writes: dict[str, int]
    noop_uploaded: int
    noop_code_uploads: int
    provider_error: str
    provider_s: float
    provider_uploaded: int


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def provider_rerun(name: str, manifest: Any, role_arn: str, zip_bytes: bytes) -> str:
    """Run the provider's create operator on an existing function; return the AWS error code it met."""
    from airflow.providers.amazon.aws.operators.lambda_function import LambdaCreateFunctionOperator
    from botocore.exceptions import ClientError

    operator = LambdaCreateFunctionOperator(
        task_id=f"create_{name}",
        function_name=name,
        runtime=manifest.runtime,
        role=role_arn,
        handler=manifest.handler,
        code={"ZipFile": zip_bytes},
        aws_conn_id=None,
    )
    try:
        operator.execute(context={})
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "no error (function created)"


def measure(name: str, aws: Any, request_bytes: RequestBytes) -> Row:
    from lambdapipe.deploy.deployer import FunctionDeployer
    from lambdapipe.hooks.iam import IamHook
    from lambdapipe.hooks.lambda_function import LambdaHook
    from lambdapipe.packaging import build_package, load_manifest

    folder = FUNCTIONS_DIR / name
    manifest = load_manifest(folder)
    _, build_cold_s = timed(lambda: build_package(folder))
    package, build_warm_s = timed(lambda: build_package(folder))

    def deploy() -> Any:
        return FunctionDeployer(
            function_dir=folder, lambda_hook=LambdaHook(aws_conn_id=None), iam_hook=IamHook(aws_conn_id=None)
        ).run()

    request_bytes.reset()
    first, deploy_s = timed(deploy)
    deploy_uploaded = request_bytes.written()

    aws.calls.reset()
    request_bytes.reset()
    _, noop_s = timed(deploy)
    counts = aws.calls.snapshot()
    noop_writes = write_calls(counts)
    noop_uploaded = request_bytes.written()

    role_arn = aws.client("iam").get_role(RoleName=f"lambdapipe-{name}")["Role"]["Arn"]
    request_bytes.reset()
    provider_error, provider_s = timed(lambda: provider_rerun(name, manifest, role_arn, package.zip_bytes))
    return Row(
        name=name,
        runtime=manifest.runtime,
        build_cold_s=build_cold_s,
        build_warm_s=build_warm_s,
        zipped_bytes=package.zipped_size,
        deploy_s=deploy_s,
        deploy_uploaded=deploy_uploaded,
        smoke_tests=len(first.smoke_tests),
        noop_s=noop_s,
        noop_writes=noop_writes,
        noop_uploaded=noop_uploaded,
        noop_code_uploads=sum(counts[key] for key in CODE_UPLOADS),
        provider_error=provider_error,
        provider_s=provider_s,
        provider_uploaded=request_bytes.written(),
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'function':<16} {'runtime':<11} {'build cold':>10} {'warm':>6} {'zip KB':>7} "
        f"{'1st deploy':>10} {'sent KB':>8} {'smoke':>5} {'no-op':>6} {'writes':>6} {'sent B':>6} "
        f"{'code up':>7} | provider rerun"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<16} {row.runtime:<11} {row.build_cold_s:9.2f}s {row.build_warm_s:5.2f}s "
            f"{row.zipped_bytes / 1024:7.0f} {row.deploy_s:9.2f}s {row.deploy_uploaded / 1024:8.0f} "
            f"{row.smoke_tests:5d} {row.noop_s:5.2f}s {sum(row.noop_writes.values()):6d} "
            f"{row.noop_uploaded:6d} {row.noop_code_uploads:7d} | {row.provider_error} in "
            f"{row.provider_s:.2f}s after sending {row.provider_uploaded / 1024:.0f} KB"
        )


def main() -> int:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lambdapipe-bench-deploy-") as scratch:
        # Before Airflow is imported: a throwaway AIRFLOW_HOME, and an empty dependency cache.
        os.environ.update(
            {
                "AIRFLOW_HOME": str(Path(scratch) / "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "LAMBDAPIPE_CACHE_DIR": str(Path(scratch) / "cache"),
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        from lambdapipe_local import LocalAws

        names = sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/function.toml"))
        sdk = os.environ.get("LAMBDAPIPE_NODE_SDK_DIR") or REPO / ".local" / "node-sdk"
        # Airflow, once imported, logs to the sys.stdout of that moment: keep stdout for the table.
        with contextlib.redirect_stdout(sys.stderr), LocalAws(node_sdk_dir=sdk) as aws:
            os.environ.update(aws.environ())
            request_bytes = RequestBytes(aws._server.app)  # the WSGI app behind the call counter
            aws._server.app = request_bytes
            rows = [measure(name, aws, request_bytes) for name in names]

    print("Deploy benchmark: one in-process local AWS stack; wall-clock seconds of one run.")
    print("build cold = empty LAMBDAPIPE_CACHE_DIR (uv/pip wheel caches untouched). 1st deploy and no-op")
    print("include a warm build (the zip's sha256 is what decides). 'sent' = request-body bytes of write")
    print("calls received by the server (the zip travels base64 in JSON, ~4/3 of its size); 'writes' =")
    print("write calls of the no-op; 'code up' = its CreateFunction + UpdateFunctionCode calls.\n")
    print_table(rows)
    load_after = os.getloadavg()
    print(
        f"\nload average (1/5/15 min): before {' '.join(f'{v:.2f}' for v in load_before)}, "
        f"after {' '.join(f'{v:.2f}' for v in load_after)}; {os.cpu_count()} CPUs"
    )
    failures = [row.name for row in rows if row.noop_writes or row.noop_uploaded]
    for row in rows:
        if row.noop_writes:
            print(f"{row.name}: no-op redeploy made write calls {row.noop_writes}")
    print(f"\nno-op target (0 writes, 0 bytes): {'MISSED by ' + ', '.join(failures) if failures else 'met'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(reported(main))
