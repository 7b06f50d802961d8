"""The fan-out itself: invoke one function for every pending batch with bounded, adaptive concurrency.

Runs on aiobotocore clients it is given, so the same code runs in a worker (``asyncio.run``) and in
the triggerer (``LambdaMapTrigger``). Per batch: throttles shrink the concurrency and are retried
(not counted as attempts); function errors are retried with exponential backoff up to
``max_attempts``; every item ends with one result line in S3. The run stops launching batches as soon
as the failure tolerance can no longer be met, like a Step Functions Map run.

A batch counts as done only once its result lines are in S3, and a worker coroutine takes its next
batch only then: a crash (SIGKILL, a lost worker) leaves at most ``max_concurrency`` batches whose
outcome was not written, and the retry invokes those again (at-least-once for them; every other
batch runs once). Results finished at the same moment share one PUT (group commit).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from lambdapipe.fanout import run_store
from lambdapipe.fanout.batching import Batch, per_item_results
from lambdapipe.fanout.concurrency import AdaptiveLimiter
from lambdapipe.fanout.run_store import RunLocation
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking.invoker import (
    FunctionInfo,
    InvocationError,
    InvocationOutcome,
    InvokeCounters,
    Invoker,
    InvokeTimeoutError,
    ThrottledError,
    ThrottlePolicy,
)
from lambdapipe.invoking.metrics import LambdaPricing, TaskIdentity

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 30.0


@dataclass(frozen=True)
class Tolerance:
    """How many failed items a run may have and still succeed (None: no failure tolerated)."""

    count: int | None = None
    percentage: float | None = None

    def allowed(self, total_items: int) -> int:
        limits = [0] if self.count is None and self.percentage is None else []
        if self.count is not None:
            limits.append(self.count)
        if self.percentage is not None:
            limits.append(int(total_items * self.percentage / 100))
        return max(limits)


@dataclass(frozen=True)
class _Part:
    """A part to create: its records, and the write id S3 recognises it by once it has landed."""

    records: list[dict[str, Any]]
    write_id: str


@dataclass(frozen=True)
class FanOutConfig:
    """Everything the fan-out needs; JSON-serializable so a trigger can carry it."""

    function: dict[str, Any]
    qualifier: str | None
    bucket: str
    prefix: str
    try_number: int
    max_concurrency: int = 10
    batch_input_key: str | None = "items"
    max_attempts: int = 3
    retry_delay_s: float = 1.0
    max_throttle_retries: int = 50
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    progress_interval_s: float = 10.0
    task: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def location(self) -> RunLocation:
        return RunLocation(self.bucket, self.prefix)

    @property
    def tolerance(self) -> Tolerance:
        return Tolerance(self.tolerated_failure_count, self.tolerated_failure_percentage)


@dataclass
class _Progress:
    total_items: int
    total_batches: int
    resumed_items: int = 0
    succeeded_items: int = 0
    failed_items: int = 0
    retries: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def done_items(self) -> int:
        return self.resumed_items + self.succeeded_items + self.failed_items


class FanOut:
    """One fan-out run over the batches stored at ``config.location``."""

    def __init__(
        self,
        config: FanOutConfig,
        lambda_client: Any,
        s3_client: Any,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.s3 = s3_client
        self.report = report or log.info
        self.function = FunctionInfo(**config.function)
        self.counters = InvokeCounters()
        self.invoker = Invoker(
            lambda_client,
            self.function,
            TaskIdentity(**config.task),
            LambdaPricing.from_settings(),
            ThrottlePolicy(max_retries=0),
            self.counters,
        )
        self.limiter = AdaptiveLimiter(config.max_concurrency)
        self._lines: list[dict[str, Any]] = []
        self._metrics_taken = 0  # counters.records before this index are in a part, written or pending
        self._parts = {"results": 0, "metrics": 0}
        # Per kind, the parts taken for writing whose PUT has not been seen to land (not sent yet,
        # cancelled or failed), oldest first: each is sent again exactly as it was, so S3 holds it
        # once whether or not an earlier send had landed.
        self._unsettled: dict[str, list[_Part]] = {kind: [] for kind in self._parts}
        self._recorded_batches = 0
        self._written_batches = 0
        self._write_lock = asyncio.Lock()
        self._aborted = False

    async def run(self) -> dict[str, Any]:
        location = self.config.location
        batches, input_sha = await run_store.read_input(self.s3, location)
        self._input_sha = input_sha
        for kind in self._parts:
            self._parts[kind] = await run_store.last_part(self.s3, location, kind, self.config.try_number)
        finished = run_store.finished_batches(await run_store.read_results(self.s3, location, input_sha))
        pending = [batch for batch in batches if batch.index not in finished]
        total_items = sum(len(batch.items) for batch in batches)
        progress = _Progress(total_items, len(batches))
        progress.resumed_items = sum(len(batch.items) for batch in batches if batch.index in finished)
        self._progress = progress
        self._allowed_failures = self.config.tolerance.allowed(total_items)
        if progress.resumed_items:
            self.report(
                f"{self.function.name}: resuming: {progress.resumed_items}/{total_items} items already "
                f"succeeded in an earlier try; {len(pending)} batches left"
            )
        queue: asyncio.Queue[Batch] = asyncio.Queue()
        for batch in pending:
            queue.put_nowait(batch)
        reporter = asyncio.create_task(self._report_progress())
        try:
            workers = [
                asyncio.create_task(self._work(queue))
                for _ in range(min(self.config.max_concurrency, len(pending)) or 1)
            ]
            await asyncio.gather(*workers)
        finally:
            for worker in [*workers, reporter]:  # one worker failed: the others stop invoking too
                worker.cancel()
            await self._write_recorded()
        summary = self._summary(progress, len(pending) - queue.qsize())
        await run_store.write_summary(self.s3, location, summary)
        self.report(self._progress_line(final=True))
        return summary

    async def _work(self, queue: asyncio.Queue[Batch]) -> None:
        while not self._aborted:
            try:
                batch = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await self._run_batch(batch)

    async def _run_batch(self, batch: Batch) -> None:
        payload = batch.payload(self.config.batch_input_key)
        attempts = 0
        throttles = 0
        while True:
            await self.limiter.acquire()
            throttled = False
            try:
                outcome: InvocationOutcome | None = await self.invoker.invoke(payload, self.config.qualifier)
                error: dict[str, Any] | None = outcome.error or None
            except ThrottledError:
                outcome, error, throttled = None, None, True
            except InvokeTimeoutError as failure:
                # The function may have run: not again in this try. A task retry invokes it again
                # (at-least-once); the result line's error says the invoke timed out.
                outcome, error = None, {"errorType": type(failure).__name__, "errorMessage": str(failure)}
                attempts = self.config.max_attempts - 1
            except InvocationError as failure:
                outcome, error = None, {"errorType": type(failure).__name__, "errorMessage": str(failure)}
            finally:
                await self.limiter.release(throttled=throttled)
            if throttled:
                throttles += 1
                if throttles <= self.config.max_throttle_retries:
                    await asyncio.sleep(
                        min(MAX_RETRY_DELAY_S, random.uniform(0.05, 0.2 * 2 ** min(throttles, 8)))
                    )
                    continue
                error = {
                    "errorType": "TooManyRequestsException",
                    "errorMessage": f"throttled {throttles} times",
                }
            attempts += 1
            if error is not None and attempts < self.config.max_attempts and not self._aborted:
                self._progress.retries += 1
                delay = self.config.retry_delay_s * 2 ** (attempts - 1)
                await asyncio.sleep(min(MAX_RETRY_DELAY_S, delay + random.uniform(0, delay / 2)))
                continue
            await self._record(batch, outcome, error, attempts)
            return

    async def _record(
        self, batch: Batch, outcome: InvocationOutcome | None, error: dict[str, Any] | None, attempts: int
    ) -> None:
        progress = self._progress
        status = "failed" if error is not None else "succeeded"
        per_item = per_item_results(
            outcome.json() if outcome and not error else None,
            len(batch.items),
            batched=self.config.batch_input_key is not None,
        )
        request_id = outcome.request_id if outcome else None
        for offset, _ in enumerate(batch.items):
            line: dict[str, Any] = {
                "index": batch.first_item + offset,
                "batch": batch.index,
                "status": status,
                "attempts": attempts,
                "request_id": request_id,
            }
            if error is not None:
                line["error"] = {key: error.get(key) for key in ("errorType", "errorMessage") if key in error}
            elif per_item is not None:
                line["result"] = per_item[offset]
            elif offset == 0:
                line["result"] = outcome.json() if outcome else None
                line["batch_result"] = True
            self._lines.append(line)
        if outcome is not None and outcome.record.cost_usd:
            progress.cost_usd += outcome.record.cost_usd
        if error is None:
            progress.succeeded_items += len(batch.items)
        else:
            progress.failed_items += len(batch.items)
            if progress.failed_items > self._allowed_failures and not self._aborted:
                self._aborted = True
                self.report(
                    f"{self.function.name}: {progress.failed_items} failed items exceed the tolerated "
                    f"{self._allowed_failures}: no new batches are started"
                )
        self._recorded_batches += 1
        await self._write_recorded(up_to=self._recorded_batches)

    async def _write_recorded(self, up_to: int | None = None) -> None:
        """Return once every batch recorded so far (or the first ``up_to``) is in S3.

        Group commit: while one write is in flight, batches finishing meanwhile queue on the lock and
        the next write carries them all; a batch already carried by an earlier write returns at once.
        The results part and the metrics part are PUT side by side: a write takes one PUT's time.
        """
        async with self._write_lock:
            if up_to is not None and self._written_batches >= up_to:
                return
            lines, self._lines = self._lines, []
            records = self.counters.records
            metrics = [record.to_dict() for record in records[self._metrics_taken :]]
            self._metrics_taken = len(records)
            # Queued before any await: a cancel before the PUTs start must not drop them either.
            for kind, taken in (("results", lines), ("metrics", metrics)):
                if taken:
                    self._unsettled[kind].append(_Part(taken, uuid.uuid4().hex))
            recorded = self._recorded_batches
            outcomes = await asyncio.gather(
                self._send_unsettled("results"), self._send_unsettled("metrics"), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            self._written_batches = recorded

    async def _send_unsettled(self, kind: str) -> None:
        """Create the unsettled parts of ``kind``, oldest first, each unchanged and with its write id
        however often it is sent (see ``run_store.write_part``)."""
        unsettled = self._unsettled[kind]
        while unsettled:
            part = unsettled[0]
            self._parts[kind] = await run_store.write_part(
                self.s3,
                self.config.location,
                kind,
                self.config.try_number,
                self._parts[kind] + 1,  # where the part's first send began: nothing landed since
                part.records,
                self._input_sha,
                part.write_id,
            )
            unsettled.pop(0)

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(self.config.progress_interval_s)
            self.report(self._progress_line())

    def _progress_line(self, final: bool = False) -> str:
        progress = self._progress
        elapsed = max(time.monotonic() - progress.started, 1e-9)
        rate = self.counters.invocations / elapsed
        line = (
            f"{self.function.name}: {'finished' if final else 'progress'} "
            f"{progress.done_items}/{progress.total_items} items, {progress.failed_items} failed, "
            f"{rate:.1f} invocations/s, concurrency {self.limiter.in_flight}/{int(self.limiter.limit)}, "
            f"throttles {self.counters.throttles}"
        )
        return line if final else f"{line}, ETA {self._eta(progress, elapsed)}"

    @staticmethod
    def _eta(progress: _Progress, elapsed: float) -> str:
        """Time left at this run's own pace; unknown until this run finished an item (resumed ones don't count)."""
        done_here = progress.done_items - progress.resumed_items
        if not done_here:
            return "unknown"
        remaining = progress.total_items - progress.done_items
        return f"{remaining / (done_here / elapsed):.0f} s"

    def _summary(self, progress: _Progress, started_batches: int) -> dict[str, Any]:
        elapsed = time.monotonic() - progress.started
        location = self.config.location
        failed = progress.failed_items
        skipped = progress.total_items - progress.done_items
        return {
            "function_name": self.function.name,
            "qualifier": self.config.qualifier,
            "status": "failed" if failed > self._allowed_failures or skipped else "succeeded",
            "total_items": progress.total_items,
            "total_batches": progress.total_batches,
            "succeeded_items": progress.succeeded_items + progress.resumed_items,
            "failed_items": failed,
            "not_started_items": skipped,
            "resumed_items": progress.resumed_items,
            "tolerated_failures": self._allowed_failures,
            "invocations": self.counters.invocations,
            "throttles": self.counters.throttles,
            "retries": progress.retries,
            "peak_concurrency": self.limiter.peak,
            "duration_s": round(elapsed, 3),
            "invocations_per_s": round(self.counters.invocations / elapsed, 2) if elapsed else None,
            "cost_usd": round(progress.cost_usd, 10),
            "results_uri": location.uri(f"{location.prefix}/results/"),
            "metrics_uri": location.uri(f"{location.prefix}/metrics/"),
            "summary_uri": location.uri(location.summary_key),
        }


async def run_fan_out(
    config: FanOutConfig, hook_parameters: dict[str, Any], report: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Open aiobotocore clients for the connection and run the fan-out (worker and triggerer alike)."""

    function = FunctionInfo(**config.function)
    lambda_hook = LambdaHook(**hook_parameters)
    s3_hook = AwsBaseHook(client_type="s3", **hook_parameters)
    async with (
        await lambda_hook.async_invoke_client(
            function, max_pool_connections=config.max_concurrency
        ) as lambda_client,
        await s3_hook.get_async_conn() as s3_client,
    ):
        return await FanOut(config, lambda_client, s3_client, report).run()
