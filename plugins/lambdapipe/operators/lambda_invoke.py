"""Invoke one Lambda function: synchronously for its result, or asynchronously for a request id.

Compared with the provider's ``LambdaInvokeFunctionOperator``: the result comes back as JSON, not a
string; a function error fails the task with the error type, message and stack trace; payloads are
never logged (size and sha256 only); the read timeout follows the function's own timeout; a retried
Invoke can never run the function twice (only throttling and connection failures are retried); the
REPORT line becomes metrics and a cost; large payloads can go through S3.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking import ledger, payloads
from lambdapipe.invoking.invoker import Invoker, ThrottlePolicy
from lambdapipe.invoking.metrics import TaskIdentity
from lambdapipe.links import LambdaFunctionLink, LambdaInvocationLogsLink, is_aws_endpoint
from lambdapipe.operators.rendered_payload import StoresRenderedPayloadSummary, check_policy, rendered_value
from lambdapipe.tables.config import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lambdapipe.invoking.invoker import FunctionInfo, InvocationOutcome, Invoker, QueuedInvocation

INVOCATIONS_XCOM_KEY = "lambda_invocations"


class LambdaInvokeOperator(StoresRenderedPayloadSummary, AwsBaseOperator[LambdaHook]):
    """Invoke a function and return its decoded JSON result (or, for ``Event``, its request id).

    :param function_name: Function name or ARN. Templated.
    :param payload: The event: dict, list, or JSON text. Templated.
    :param qualifier: Version or alias. Templated.
    :param invocation_type: ``RequestResponse`` (wait for the result) or ``Event`` (queue it; pair with
        ``LambdaInvocationSensor`` to wait for completion through the function's destinations).
    :param offload_bucket: Send payloads above Lambda's limit (6 MB sync, 1 MB async) through this S3
        bucket as a claim check instead of failing. Templated.
    :param offload_prefix: Key prefix for offloaded payloads.
    :param max_throttle_retries: Retries of a throttled (429) invocation, with backoff and jitter.
    :param log_function_output: Print the function's log tail (its last 4 KB) in the task log at INFO;
        off by default (then at DEBUG), since a function's output may carry the data it processed.
    :param store_rendered_payload: What Airflow stores of the rendered payload for its "Rendered
        Template" tab: ``"auto"`` (in full up to 1 KB, else its size and sha256), ``"summary"`` (always
        size and sha256: the payload is sensitive) or ``"full"``. See ``rendered_payload``.
    :param record_invocations: Record each synchronous invocation in the ``lambda_invocations`` table
        (the Lambda view and cost figures read it). None follows ``[lambdapipe] record_invocations``
        (default true). See ``lambdapipe.invoking.ledger``.
    :param tables_conn_id: Connection holding the tables' catalog settings, for that record.
    :return: The function's result (sync), or ``{function_name, qualifier, request_id, status_code}``.
        Every synchronous invocation also pushes its metrics record (see ``lambdapipe.invoking.metrics``)
        to the XCom key ``lambda_invocations``.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "payload", "qualifier", "offload_bucket"
    )
    template_fields_renderers = {"payload": "json"}
    payload_fields = ("payload",)
    operator_extra_links = (LambdaFunctionLink(), LambdaInvocationLogsLink())
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        function_name: str,
        payload: Any = None,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        offload_bucket: str | None = None,
        offload_prefix: str = "lambdapipe/claims",
        max_throttle_retries: int = 8,
        log_function_output: bool = False,
        store_rendered_payload: str = "auto",
        record_invocations: bool | None = None,
        tables_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if invocation_type not in ("RequestResponse", "Event"):
            raise ValueError(f"invocation_type must be 'RequestResponse' or 'Event', not {invocation_type!r}")
        self.function_name = function_name
        self.payload = payload
        self.qualifier = qualifier
        self.invocation_type = invocation_type
        self.offload_bucket = offload_bucket
        self.offload_prefix = offload_prefix
        self.max_throttle_retries = max_throttle_retries
        self.log_function_output = log_function_output
        self.store_rendered_payload = check_policy(store_rendered_payload)
        self.record_invocations = record_invocations
        self.tables_conn_id = tables_conn_id

    def execute(self, context: Context) -> Any:
        function = self.hook.function_info(self.function_name, self.qualifier)
        LambdaFunctionLink.persist(context=context, operator=self, **self._link_fields())
        body = self._payload_bytes(context)
        self.log.info(
            "Invoking %s%s (%s): payload %s",
            self.function_name,
            f":{self.qualifier}" if self.qualifier else "",
            self.invocation_type,
            payloads.describe(body),
        )
        if self.invocation_type == "Event":
            return self._queue(context, function, body)
        outcome = asyncio.run(self._invoke(function, body, TaskIdentity.from_context(context)))
        LambdaInvocationLogsLink.persist(
            context=context, operator=self, request_id=outcome.request_id, **self._link_fields()
        )
        self._report(context, outcome)
        if outcome.function_error:
            error = outcome.error
            trace = error.get("stackTrace") or error.get("trace") or []
            self.log.error(
                "Function error %s: %s\n%s",
                error.get("errorType"),
                error.get("errorMessage"),
                "".join(line if line.endswith("\n") else line + "\n" for line in trace),
            )
            raise AirflowException(
                f"Lambda function {self.function_name} failed (request {outcome.request_id}): "
                f"{outcome.error_summary}"
            )
        return outcome.json()

    def _payload_bytes(self, context: Context) -> bytes:
        body = payloads.encode_payload(rendered_value(self.payload))
        if len(body) <= payloads.size_limit(self.invocation_type):
            return body
        if not self.offload_bucket:
            payloads.check_size(body, self.invocation_type, self.function_name)
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        ti = context["ti"]
        prefix = f"{self.offload_prefix}/{ti.dag_id}/{ti.run_id}/{ti.task_id}"
        claim = payloads.offload(body, S3Hook(**self._hook_parameters).conn, self.offload_bucket, prefix)
        self.log.info(
            "Payload offloaded to s3://%s/%s (%s)", claim.bucket, claim.key, payloads.describe(body)
        )
        return json.dumps(claim.to_payload()).encode("utf-8")

    def _invoker(self, client: Any, function: FunctionInfo, task: Any) -> Invoker:
        return Invoker(client, function, task, throttle_policy=ThrottlePolicy(self.max_throttle_retries))

    async def _invoke(self, function: FunctionInfo, body: bytes, task: Any) -> InvocationOutcome:
        async with await self.hook.async_invoke_client(function) as client:
            return await self._invoker(client, function, task).invoke(body, self.qualifier)

    def _queue(self, context: Context, function: FunctionInfo, body: bytes) -> dict[str, Any]:
        async def queue() -> QueuedInvocation:
            async with await self.hook.async_invoke_client(function) as client:
                invoker = self._invoker(client, function, TaskIdentity.from_context(context))
                return await invoker.queue(body, self.qualifier)

        queued = asyncio.run(queue())
        LambdaInvocationLogsLink.persist(
            context=context, operator=self, request_id=queued.request_id, **self._link_fields()
        )
        self.log.info("Queued %s as request %s", self.function_name, queued.request_id)
        return {
            "function_name": self.function_name,
            "qualifier": self.qualifier,
            "request_id": queued.request_id,
            "status_code": queued.status_code,
        }

    def _report(self, context: Context, outcome: InvocationOutcome) -> None:
        if outcome.log_tail:
            level = logging.INFO if self.log_function_output else logging.DEBUG
            self.log.log(level, "Function log (last 4 KB):\n%s", outcome.log_tail.rstrip())
        record = outcome.record
        if outcome.report is not None:
            report = outcome.report
            self.log.info(
                "Request %s on version %s: %.2f ms (billed %d ms), memory %d/%d MB, %s, cost $%.10f",
                outcome.request_id,
                outcome.executed_version,
                report.duration_ms,
                report.billed_duration_ms,
                report.max_memory_used_mb,
                report.memory_size_mb,
                f"cold start (init {report.init_duration_ms:.2f} ms)" if report.cold_start else "warm",
                record.cost_usd,
            )
        self.log.info("Result: %s", payloads.describe(outcome.payload))
        context["ti"].xcom_push(key=INVOCATIONS_XCOM_KEY, value=[record.to_dict()])
        if ledger.recording_enabled(self.record_invocations):
            run_key = ledger.task_run_key(context, per_try=True)
            ledger.record_invocations([record.to_dict()], run_key, context, self.log, self.tables_conn_id)

    def _link_fields(self) -> dict[str, Any]:
        return {
            "region_name": self.hook.conn_region_name,
            "aws_partition": self.hook.conn_partition,
            "function_name": self.function_name,
            "local": not is_aws_endpoint(self.hook.endpoint_url),
        }
