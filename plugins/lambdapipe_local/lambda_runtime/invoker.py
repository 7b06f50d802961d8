"""Runs one invocation on a warm or cold environment and reports it the way Lambda does."""

from __future__ import annotations

import base64
import json
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from lambdapipe_local.lambda_runtime import ids
from lambdapipe_local.lambda_runtime.code_store import CodeStore
from lambdapipe_local.lambda_runtime.environment import ExecutionEnvironment, Outcome
from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec
from lambdapipe_local.lambda_runtime.metrics import record_invocation
from lambdapipe_local.lambda_runtime.pool import EnvironmentPool
from lambdapipe_local.lambda_runtime.runtimes import RuntimeLauncher

LOG_TAIL_BYTES = 4096
MAX_SYNC_RESPONSE_BYTES = 6 * 1024 * 1024


@dataclass
class InvokeResult:
    """The wire-level answer of an invocation: what Invoke's response headers and body carry."""

    request_id: str
    payload: bytes
    function_error: str | None
    executed_version: str
    log_text: str
    error_type: str | None = None

    @property
    def log_tail_b64(self) -> str:
        tail = self.log_text.encode("utf-8")[-LOG_TAIL_BYTES:]
        return base64.b64encode(tail).decode("ascii")


class LambdaExecutor:
    """Turns a FunctionSpec + event into an InvokeResult, writing START/END/REPORT to CloudWatch Logs."""

    def __init__(
        self, launcher: RuntimeLauncher, code_store: CodeStore, pool_options: dict | None = None
    ) -> None:
        self.launcher = launcher
        self.code_store = code_store
        self.pool = EnvironmentPool(self._create_environment, **(pool_options or {}))
        self._streams: set[tuple[str, str, str]] = set()
        self._logs_lock = threading.Lock()

    def invoke(
        self,
        spec: FunctionSpec,
        event: bytes,
        invoked_arn: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """Raises ``ConcurrencyLimitExceeded`` when the function or account is at its limit."""
        request_id = request_id or ids.request_id()
        with self.pool.acquire(spec) as env:
            outcome = env.invoke(request_id, event, invoked_arn or spec.function_arn, client_context)
            log_stream = env.log_stream
        lines = _log_lines(spec, outcome)
        self._write_cloudwatch(spec, log_stream, lines)
        payload, error_type = _payload(outcome)
        record_invocation(spec, invoked_arn or spec.function_arn, error_type is not None, outcome.duration_ms)
        return InvokeResult(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error_type else None,
            executed_version=spec.version,
            log_text="\n".join(lines) + "\n",
            error_type=error_type,
        )

    def close(self) -> None:
        self.pool.close()

    def _create_environment(self, spec: FunctionSpec) -> ExecutionEnvironment:
        task_root = self.code_store.task_root(spec.code_sha256, spec.code)
        opt_root = self.code_store.opt_root(list(spec.layers))
        return ExecutionEnvironment(
            spec, lambda api, stream: self.launcher.launch_spec(spec, task_root, opt_root, api, stream)
        )

    def _write_cloudwatch(self, spec: FunctionSpec, log_stream: str, lines: list[str]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[spec.account_id][spec.region]
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        with self._logs_lock:
            key = (spec.account_id, spec.region, f"{spec.log_group}|{log_stream}")
            if key not in self._streams or spec.log_group not in backend.groups:
                backend.ensure_log_group(spec.log_group)
                if log_stream not in backend.groups[spec.log_group].streams:
                    backend.create_log_stream(spec.log_group, log_stream)
                self._streams.add(key)
            events = [{"timestamp": now_ms, "message": line} for line in lines]
            backend.put_log_events(spec.log_group, log_stream, events)


def _payload(outcome: Outcome) -> tuple[bytes, str | None]:
    if outcome.error is not None:
        return json.dumps(outcome.error).encode("utf-8"), outcome.error.get("errorType", "Unknown")
    payload = outcome.payload if outcome.payload is not None else b"null"
    if len(payload) > MAX_SYNC_RESPONSE_BYTES:
        error = {
            "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed payload "
            f"size ({MAX_SYNC_RESPONSE_BYTES} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
        return json.dumps(error).encode("utf-8"), error["errorType"]
    return payload, None


def _log_lines(spec: FunctionSpec, outcome: Outcome) -> list[str]:
    request_id = outcome.request_id
    lines = []
    error_type = (outcome.error or {}).get("errorType", "")
    if outcome.init_failed:
        # No init duration: the init outlasted its 10 s and failed within the invocation ("Phase: invoke").
        phase, init_ms = (
            ("init", outcome.init_duration_ms)
            if outcome.init_duration_ms is not None
            else ("invoke", outcome.duration_ms)
        )
        lines.append(
            f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: error\tError Type: {error_type}"
        )
    lines.append(f"START RequestId: {request_id} Version: {spec.version}")
    # Runtimes write a multi-line record as one line with \r for its newlines; CloudWatch shows newlines.
    lines.extend(line.replace("\r", "\n") for line in outcome.logs)
    if error_type == "Sandbox.Timedout":
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(f"{timestamp} {request_id} Task timed out after {spec.timeout:.2f} seconds")
    lines.append(f"END RequestId: {request_id}")
    lines.append(_report_line(spec, outcome))
    return lines


def _report_line(spec: FunctionSpec, outcome: Outcome) -> str:
    fields = [
        f"REPORT RequestId: {outcome.request_id}",
        f"Duration: {outcome.duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(outcome.duration_ms))} ms",
        f"Memory Size: {spec.memory_size} MB",
        f"Max Memory Used: {outcome.max_memory_mb} MB",
    ]
    if outcome.init_duration_ms is not None:
        fields.append(f"Init Duration: {outcome.init_duration_ms:.2f} ms")
    if outcome.error is not None and outcome.fatal:
        fields.append(f"Status: error\tError Type: {outcome.error.get('errorType', 'Unknown')}")
    return "\t".join(fields) + "\t"
