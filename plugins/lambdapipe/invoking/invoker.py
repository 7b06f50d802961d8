"""One Lambda invocation done safely: the shared core of LambdaInvokeOperator and LambdaMapOperator.

Why it exists: a retried Invoke runs the function twice, so botocore's own retries are turned off
for it. Only what cannot have reached the function is retried: throttling (429, honouring
``retryAfterSeconds``, exponential backoff with full jitter) and failures to connect. A read timeout
is never retried: the client's read timeout is derived from the function's own timeout plus a
margin, so it only fires when the function really outlived its configured limit.

It is asynchronous (aiobotocore) so the same code serves a worker (``asyncio.run``) and the
triggerer (deferrable fan-out).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from lambdapipe.invoking.metrics import (
    InvocationRecord,
    LambdaPricing,
    ReportMetrics,
    TaskIdentity,
    invocation_record,
    parse_report,
)

READ_TIMEOUT_MARGIN_S = 30
CONNECT_TIMEOUT_S = 10


class InvocationError(Exception):
    """An invocation could not be made or completed; the message says whether it may have run."""


class ThrottledError(InvocationError):
    """Still throttled (429) after every retry."""


class InvokeTimeoutError(InvocationError):
    """No answer within the function's timeout plus the margin; not retried, the function may have run."""


@dataclass(frozen=True)
class FunctionInfo:
    """What the invoker needs to know about the target, read once per task."""

    name: str
    timeout_s: int
    memory_size_mb: int
    architecture: str = "x86_64"

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any]) -> FunctionInfo:
        return cls(
            name=configuration["FunctionName"],
            timeout_s=int(configuration.get("Timeout", 3)),
            memory_size_mb=int(configuration.get("MemorySize", 128)),
            architecture=(configuration.get("Architectures") or ["x86_64"])[0],
        )


@dataclass(frozen=True)
class ThrottlePolicy:
    """How long to keep retrying a 429: exponential backoff with full jitter, capped."""

    max_retries: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 20.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        backoff = random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
        return max(backoff, retry_after_s or 0.0)


@dataclass(frozen=True)
class InvocationOutcome:
    """A completed invocation (the function ran, successfully or not)."""

    payload: bytes
    function_error: str | None
    request_id: str
    executed_version: str | None
    log_tail: str | None
    report: ReportMetrics | None
    record: InvocationRecord
    throttles: int = 0
    status_code: int = 200

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None

    @property
    def error_summary(self) -> str:
        """``ErrorType: message`` of a failed invocation, empty when it succeeded."""
        error = self.error
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}" if error else ""

    @property
    def error(self) -> dict[str, Any]:
        """The function's error document (errorType, errorMessage, stackTrace) when it failed."""
        if not self.function_error:
            return {}
        try:
            document = json.loads(self.payload)
        except ValueError:
            document = {"errorMessage": self.payload.decode("utf-8", "replace")}
        return document if isinstance(document, dict) else {"errorMessage": str(document)}


@dataclass(frozen=True)
class QueuedInvocation:
    """An ``Event`` invocation Lambda accepted (it runs later; its outcome reaches the destinations)."""

    request_id: str
    status_code: int
    throttles: int = 0


@dataclass
class InvokeCounters:
    """Running totals across invocations, for progress lines and summaries."""

    invocations: int = 0
    throttles: int = 0
    connection_retries: int = 0
    records: list[InvocationRecord] = field(default_factory=list)


def invoke_client_config(
    function: FunctionInfo, base: Config | None, max_pool_connections: int = 10
) -> Config:
    """The Lambda client config for Invoke: no botocore retries, read timeout above the function's."""
    invoke_config = Config(
        read_timeout=function.timeout_s + READ_TIMEOUT_MARGIN_S,
        connect_timeout=CONNECT_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
    )
    return base.merge(invoke_config) if base is not None else invoke_config


class Invoker:
    """Invokes one function with the retry rules above and turns each answer into an outcome + record."""

    def __init__(
        self,
        client: Any,
        function: FunctionInfo,
        task: TaskIdentity | None = None,
        pricing: LambdaPricing | None = None,
        throttle_policy: ThrottlePolicy | None = None,
        counters: InvokeCounters | None = None,
    ) -> None:
        self.client = client
        self.function = function
        self.task = task or TaskIdentity()
        self.pricing = pricing or LambdaPricing.from_settings()
        self.throttle_policy = throttle_policy or ThrottlePolicy()
        self.counters = counters or InvokeCounters()

    async def invoke(self, payload: bytes, qualifier: str | None = None) -> InvocationOutcome:
        """RequestResponse with the log tail. Raises ThrottledError / InvokeTimeoutError / InvocationError."""
        kwargs: dict[str, Any] = {"FunctionName": self.function.name, "Payload": payload, "LogType": "Tail"}
        response, body, throttles = await self._send(kwargs, qualifier)
        self.counters.invocations += 1
        return self._outcome(response, body, qualifier, throttles)

    async def queue(self, payload: bytes, qualifier: str | None = None) -> QueuedInvocation:
        """An ``Event`` invocation, with the same retry rules (a throttled Event was not queued)."""
        kwargs: dict[str, Any] = {
            "FunctionName": self.function.name,
            "Payload": payload,
            "InvocationType": "Event",
        }
        response, _, throttles = await self._send(kwargs, qualifier)
        self.counters.invocations += 1
        return QueuedInvocation(response["ResponseMetadata"]["RequestId"], response["StatusCode"], throttles)

    async def _send(self, kwargs: dict[str, Any], qualifier: str | None) -> tuple[dict, bytes, int]:
        """One Invoke call, retrying only what cannot have reached the function; (response, body, throttles)."""
        if qualifier:
            kwargs["Qualifier"] = qualifier
        throttles = 0
        connection_failures = 0
        while True:
            try:
                response = await self.client.invoke(**kwargs)
                body = await response["Payload"].read()
                break
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TooManyRequestsException":
                    raise InvocationError(f"{self.function.name}: Invoke failed: {error}") from error
                throttles += 1
                self.counters.throttles += 1
                if throttles > self.throttle_policy.max_retries:
                    self._record_failure(qualifier, "throttled", "TooManyRequestsException")
                    raise ThrottledError(
                        f"{self.function.name}: still throttled after {throttles - 1} retries "
                        f"({error.response.get('Reason', 'TooManyRequestsException')})"
                    ) from error
                await asyncio.sleep(self.throttle_policy.delay(throttles - 1, _retry_after(error)))
            except (EndpointConnectionError, ConnectTimeoutError) as error:
                connection_failures += 1
                self.counters.connection_retries += 1
                if connection_failures > 3:
                    raise InvocationError(
                        f"{self.function.name}: cannot connect to Lambda: {error} (never sent, so not run)"
                    ) from error
                await asyncio.sleep(0.5 * connection_failures)
            except (ReadTimeoutError, ConnectionClosedError) as error:
                self._record_failure(qualifier, "timeout", type(error).__name__)
                raise InvokeTimeoutError(
                    f"{self.function.name}: no answer within {self.function.timeout_s + READ_TIMEOUT_MARGIN_S} s "
                    f"(function timeout {self.function.timeout_s} s + margin) or the connection dropped; not "
                    "retried because the function may have run"
                ) from error
        return response, body, throttles

    def _outcome(
        self, response: dict, body: bytes, qualifier: str | None, throttles: int
    ) -> InvocationOutcome:
        log_tail = (
            base64.b64decode(response["LogResult"]).decode("utf-8", "replace")
            if response.get("LogResult")
            else None
        )
        report = parse_report(log_tail)
        function_error = response.get("FunctionError")
        request_id = response["ResponseMetadata"]["RequestId"]
        error_type = None
        if function_error:
            try:
                error_type = json.loads(body).get("errorType")
            except (ValueError, AttributeError):
                error_type = "Unknown"
        status = "function_error" if function_error else "success"
        if error_type == "Sandbox.Timedout":
            status = "timeout"
        record = invocation_record(
            function_name=self.function.name,
            qualifier=qualifier,
            executed_version=response.get("ExecutedVersion"),
            request_id=request_id,
            status=status,
            error_type=error_type,
            report=report,
            architecture=self.function.architecture,
            task=self.task,
            pricing=self.pricing,
        )
        self.counters.records.append(record)
        return InvocationOutcome(
            payload=body,
            function_error=function_error,
            request_id=request_id,
            executed_version=response.get("ExecutedVersion"),
            log_tail=log_tail,
            report=report,
            record=record,
            throttles=throttles,
            status_code=response.get("StatusCode", 200),
        )

    def _record_failure(self, qualifier: str | None, status: str, error_type: str) -> None:
        self.counters.records.append(
            invocation_record(
                function_name=self.function.name,
                qualifier=qualifier,
                executed_version=None,
                request_id="",
                status=status,
                error_type=error_type,
                report=None,
                architecture=self.function.architecture,
                task=self.task,
                pricing=self.pricing,
            )
        )


def _retry_after(error: ClientError) -> float | None:
    value = error.response.get("retryAfterSeconds") or error.response.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None
