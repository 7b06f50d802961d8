"""One execution environment: a runtime process serving invocations one at a time, kept warm."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec
from lambdapipe_local.lambda_runtime.runtime_api import Invocation, RuntimeApiServer
from lambdapipe_local.lambda_runtime.runtimes import LaunchSpec

# Lambda's init limits: 10 s for an on-demand environment, after which the first invocation goes on
# initializing under the function's timeout (AWS starts the init again; here the first one goes on,
# so init code runs once); 130 s or the timeout, whichever is higher, with provisioned concurrency.
INIT_TIMEOUT_S = 10.0
PROVISIONED_INIT_TIMEOUT_S = 130.0
POLL_INTERVAL_S = 0.25


class _InitPending:
    """What waiting for the init returns at its deadline: the runtime has not polled /next yet."""


_STILL_INITIALIZING = _InitPending()


@dataclass
class Outcome:
    """What one invocation produced, in the terms Lambda reports them."""

    request_id: str
    payload: bytes | None
    error: dict | None
    logs: list[str]
    duration_ms: float
    init_duration_ms: float | None
    max_memory_mb: int
    # The environment cannot be reused (timeout, crash, out of memory, init failure).
    fatal: bool = False
    init_failed: bool = False


class ExecutionEnvironment:
    """A runtime process plus its Runtime API server; not thread-safe: the pool hands it to one caller."""

    def __init__(self, spec: FunctionSpec, make_launch: callable) -> None:
        self.spec = spec
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        self.runtime_api = RuntimeApiServer()
        launch: LaunchSpec = make_launch(self.runtime_api.address, self.log_stream)
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            launch.argv,
            env=launch.env,
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log_lock = threading.Lock()
        self._log_lines: list[str] = []
        self._partial = b""
        self._reader = threading.Thread(
            target=self._read_logs, daemon=True, name=f"logs-{spec.function_name}"
        )
        self._reader.start()
        self.initialized = False
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def invoke(
        self, request_id: str, event: bytes, invoked_arn: str, client_context: str | None = None
    ) -> Outcome:
        init_duration_ms = None
        started = None
        if not self.initialized:
            init_error, started = self._cold_start(request_id)
            if started is None:  # a suppressed init is part of the invocation's Duration, as on Lambda
                init_duration_ms = (time.monotonic() - self._started_at) * 1000
            if init_error is not None:
                duration_ms = 0.0 if started is None else (time.monotonic() - started) * 1000
                self.close()
                return self._outcome(
                    request_id, None, init_error, duration_ms, init_duration_ms, fatal=True, init_failed=True
                )
        if started is None:
            started = time.monotonic()
        deadline_ms = int((time.time() + started + self.spec.timeout - time.monotonic()) * 1000)
        invocation = Invocation(request_id, event, invoked_arn, deadline_ms, client_context)
        self.runtime_api.submit(invocation)
        fatal_error = self._wait(invocation, started + self.spec.timeout)
        duration_ms = (time.monotonic() - started) * 1000
        self.last_used = time.monotonic()
        if fatal_error is not None:
            self.close()
            return self._outcome(request_id, None, fatal_error, duration_ms, init_duration_ms, fatal=True)
        return self._outcome(request_id, invocation.payload, invocation.error, duration_ms, init_duration_ms)

    def close(self) -> None:
        """Kill the whole process group (the handler may have spawned children) and stop the API server."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self.runtime_api.close()
        self._reader.join(timeout=1)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _cold_start(self, request_id: str) -> tuple[dict | None, float | None]:
        """The init phase of an on-demand environment: the init error, if any, and when the invocation's
        timeout started if the init outlasted its 10 s (a suppressed init: it goes on under the timeout)."""
        error = self._wait_for_init(time.monotonic() + INIT_TIMEOUT_S)
        started = None
        if error is _STILL_INITIALIZING:
            started = time.monotonic()
            error = self._wait_for_init(started + self.spec.timeout)
            if error is _STILL_INITIALIZING:
                error = self._timed_out(request_id)
        self.initialized = error is None
        return error, started

    def initialize_provisioned(self) -> dict | None:
        """Finish the init phase ahead of any invocation (provisioned concurrency); the init error, if any."""
        if self.initialized:
            return None
        limit_s = max(PROVISIONED_INIT_TIMEOUT_S, self.spec.timeout)
        error = self._wait_for_init(self._started_at + limit_s)  # environments started together, one limit
        if error is _STILL_INITIALIZING:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"INIT timed out after {limit_s:.2f} seconds",
            }
        self.initialized = error is None
        return error

    def _wait_for_init(self, deadline: float) -> dict | _InitPending | None:
        """Wait for the runtime's first /next poll: None once it came, the init error, or
        ``_STILL_INITIALIZING`` at the deadline."""
        while not self.runtime_api.polled.wait(POLL_INTERVAL_S):
            if self.runtime_api.init_error is not None:
                return self.runtime_api.init_error
            if not self.alive:
                return self.runtime_api.init_error or self._exit_error("Runtime.ExitError")
            if time.monotonic() > deadline:
                return _STILL_INITIALIZING
        return None

    def _wait(self, invocation: Invocation, deadline: float) -> dict | None:
        """Wait for the answer, policing the timeout, the memory limit and the process's life."""
        while not invocation.finished.wait(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic()))):
            if self._peak_memory_mb() > self.spec.memory_size:
                return self._out_of_memory(invocation.request_id)
            if not self.alive:
                invocation.finished.wait(POLL_INTERVAL_S)
                if invocation.finished.is_set():
                    break
                return self._exit_error("Runtime.ExitError", invocation.request_id)
            if time.monotonic() > deadline:
                self._kill()
                return self._timed_out(invocation.request_id)
        if self._peak_memory_mb() > self.spec.memory_size:
            # VmHWM is a high-water mark: a spike between two polls is still seen once the call ends.
            return self._out_of_memory(invocation.request_id)
        if invocation.error is not None and not self._survives_error():
            # The runtime reported the error and exited (uncaught exception): the environment is gone.
            return invocation.error
        return None

    def _timed_out(self, request_id: str) -> dict:
        return {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds",
        }

    def _out_of_memory(self, request_id: str) -> dict:
        """Over the memory size: Lambda kills the runtime, whatever the handler was about to return."""
        self._kill()
        return {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        }

    def _survives_error(self) -> bool:
        """After an error a runtime either polls /next again or exits (Node.js on uncaught errors)."""
        deadline = time.monotonic() + INIT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.runtime_api.waiting.is_set():
                return True
            try:
                self._process.wait(timeout=0.005)
                return False
            except subprocess.TimeoutExpired:
                continue
        return self.alive

    def _exit_error(self, error_type: str, request_id: str | None = None) -> dict:
        code = self._process.wait()
        reason = (
            f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
            if code < 0
            else f"exit status {code}"
        )
        prefix = f"RequestId: {request_id} " if request_id else ""
        return {
            "errorType": error_type,
            "errorMessage": f"{prefix}Error: Runtime exited with error: {reason}",
        }

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def _outcome(
        self,
        request_id: str,
        payload: bytes | None,
        error: dict | None,
        duration_ms: float,
        init_duration_ms: float | None,
        fatal: bool = False,
        init_failed: bool = False,
    ) -> Outcome:
        return Outcome(
            request_id=request_id,
            payload=payload,
            error=error,
            logs=self._take_logs(),
            duration_ms=duration_ms,
            init_duration_ms=init_duration_ms,
            max_memory_mb=self._last_memory_mb,  # read by _wait as the call ended, or before a kill
            fatal=fatal,
            init_failed=init_failed,
        )

    _last_memory_mb = 0

    def _peak_memory_mb(self) -> int:
        """Peak resident memory (VmHWM) of the runtime process, as Lambda's "Max Memory Used"."""
        try:
            with open(f"/proc/{self._process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        self._last_memory_mb = int(line.split()[1]) // 1024
                        return self._last_memory_mb
        except (FileNotFoundError, ProcessLookupError):
            pass
        return 0

    def _read_logs(self) -> None:
        """Keep the pipe drained so a chatty handler never blocks on a full pipe."""
        stream = self._process.stdout
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        while True:
            try:
                select.select([stream.fileno()], [], [])
            except (ValueError, OSError):
                return
            with self._log_lock:
                if not self._drain_pipe():
                    return

    def _drain_pipe(self) -> bool:
        """Read everything the runtime has written so far (caller holds the lock); False at end of file."""
        stream = self._process.stdout
        assert stream is not None
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)
            except BlockingIOError:
                return True
            except (ValueError, OSError):
                return False
            if not chunk:
                return False
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            self._log_lines.extend(line.decode("utf-8", "replace") for line in lines)

    def _take_logs(self) -> list[str]:
        """Return this invocation's lines; the runtime wrote them before answering, so they are in the pipe."""
        with self._log_lock:
            self._drain_pipe()
            lines, self._log_lines = self._log_lines, []
            if self._partial:
                lines.append(self._partial.decode("utf-8", "replace"))
                self._partial = b""
        return lines
