"""Asynchronous (``Event``) invocations: queued, retried and delivered to destinations as Lambda does.

Lambda retries a failed event twice (after about 1 and 2 minutes), drops it once it is older than
``MaximumEventAgeInSeconds``, keeps retrying throttled events until then, and sends an invocation
record to the OnSuccess / OnFailure destination (or the event itself to the function's dead-letter
queue). Local retry delays are seconds instead of minutes so tests stay fast; they are configurable.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec
from lambdapipe_local.lambda_runtime.invoker import InvokeResult
from lambdapipe_local.lambda_runtime.pool import ConcurrencyLimitExceeded

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_S = (1.0, 2.0)
THROTTLE_RETRY_DELAY_S = 0.5
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 21600


@dataclass
class AsyncEvent:
    """One queued event and its delivery history."""

    spec: FunctionSpec
    invoked_arn: str
    payload: bytes
    request_id: str
    enqueued_at: float = field(default_factory=time.monotonic)
    attempts: int = 0


@dataclass(frozen=True)
class AsyncPolicy:
    """The function's event-invoke config, resolved when the event is processed."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter_arn: str | None = None


Invoke = Callable[[FunctionSpec, bytes, str, str], InvokeResult]
PolicyLookup = Callable[[FunctionSpec], AsyncPolicy]
Deliver = Callable[[str, dict, dict[str, Any] | None], None]


class AsyncInvoker:
    """A delay queue feeding a worker pool; every accepted event ends in success, a destination or a log line."""

    def __init__(
        self,
        invoke: Invoke,
        policy_for: PolicyLookup,
        deliver: Deliver,
        workers: int = 64,
        retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S,
    ) -> None:
        self._invoke = invoke
        self._policy_for = policy_for
        self._deliver = deliver
        self.retry_delays_s = retry_delays_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-async")
        self._heap: list[tuple[float, int, AsyncEvent]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._closed = False
        self._pending = 0
        self._idle = threading.Condition()
        self._timer = threading.Thread(target=self._run_timer, daemon=True, name="lambda-async-timer")
        self._timer.start()

    def submit(self, event: AsyncEvent) -> None:
        with self._idle:
            self._pending += 1
        self._schedule(event, delay_s=0.0)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until every accepted event is finished; for tests and orderly shutdown."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self) -> None:
        with self._wakeup:
            self._closed = True
            self._wakeup.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, event: AsyncEvent, delay_s: float) -> None:
        with self._wakeup:
            heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._order), event))
            self._wakeup.notify()

    def _run_timer(self) -> None:
        while True:
            with self._wakeup:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wakeup.wait(timeout)
                if self._closed:
                    return
                _, _, event = heapq.heappop(self._heap)
            self._pool.submit(self._process, event)

    def _process(self, event: AsyncEvent) -> None:
        try:
            self._attempt(event)
        except Exception:
            log.exception(
                "async invocation %s of %s failed unexpectedly", event.request_id, event.invoked_arn
            )
            self._finish()

    def _attempt(self, event: AsyncEvent) -> None:
        policy = self._policy_for(event.spec)
        if time.monotonic() - event.enqueued_at > policy.max_event_age_s:
            self._fail(event, policy, "EventAgeExceeded", None)
            return
        try:
            event.attempts += 1
            result = self._invoke(event.spec, event.payload, event.invoked_arn, event.request_id)
        except ConcurrencyLimitExceeded:
            event.attempts -= 1  # throttles do not count as attempts; they retry until the event is too old
            self._schedule(event, THROTTLE_RETRY_DELAY_S)
            return
        if result.function_error is None:
            self._send(policy.on_success, _record(event, "Success", result))
            self._finish()
            return
        retries_done = event.attempts - 1
        if retries_done < policy.max_retries:
            delay = self.retry_delays_s[min(retries_done, len(self.retry_delays_s) - 1)]
            self._schedule(event, delay)
            return
        self._fail(event, policy, "RetriesExhausted", result)

    def _fail(
        self, event: AsyncEvent, policy: AsyncPolicy, condition: str, result: InvokeResult | None
    ) -> None:
        if policy.on_failure:
            self._send(policy.on_failure, _record(event, condition, result))
        elif policy.dead_letter_arn:
            error = json.loads(result.payload) if result is not None else {}
            attributes = {
                "RequestID": event.request_id,
                "ErrorCode": "200",
                "ErrorMessage": str(error.get("errorMessage", condition))[:1000],
            }
            self._deliver(policy.dead_letter_arn, _json_or_text(event.payload), attributes)
        else:
            log.warning("async event %s for %s dropped: %s", event.request_id, event.invoked_arn, condition)
        self._finish()

    def _send(self, destination: str | None, record: dict) -> None:
        if destination:
            self._deliver(destination, record, None)

    def _finish(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()


def _record(event: AsyncEvent, condition: str, result: InvokeResult | None) -> dict:
    """The invocation record AWS sends to destinations (version 1.0)."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": event.spec.version}
    response_payload: Any = None
    if result is not None:
        if result.function_error:
            response_context["functionError"] = result.function_error
        response_payload = _json_or_text(result.payload)
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": event.invoked_arn,
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": _json_or_text(event.payload),
        "responseContext": response_context,
        "responsePayload": response_payload,
    }


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return payload.decode("utf-8", "replace")
