"""Sensors for AWS Lambda: wait for an asynchronous (``Event``) invocation to finish."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, PokeReturnValue, conf

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking.completion_records import CompletionRecord, destination_queue_urls, poll_once
from lambdapipe.triggers.lambda_invocation import LambdaInvocationTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class LambdaInvocationSensor(AwsBaseSensor[LambdaHook]):
    """Wait for the completion record of one asynchronous invocation and return its result.

    Lambda reports how an ``Event`` invocation ended only through its destinations, so the function
    needs an SQS OnSuccess and/or OnFailure destination (``[event_invoke]`` in ``function.toml``).
    Records of other invocations on the same queue are left for their own sensors.

    :param function_name: The invoked function. Templated.
    :param request_id: The invocation's request id (``LambdaInvokeOperator(invocation_type="Event")``
        returns it: ``"{{ ti.xcom_pull('invoke')['request_id'] }}"``). Templated.
    :param qualifier: The qualifier it was invoked with, to find the destinations. Templated.
    :param queue_urls: Destination queues to read (default: from the function's event-invoke config).
    :param deferrable: Wait in the triggerer.
    :return: The function's result (``responsePayload``); a failed invocation fails the task with
        its error type and message.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "request_id", "qualifier", "queue_urls"
    )

    def __init__(
        self,
        *,
        function_name: str,
        request_id: str,
        qualifier: str | None = None,
        queue_urls: list[str] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 5)
        kwargs.setdefault("timeout", 60 * 60)
        super().__init__(**kwargs)
        self.function_name = function_name
        self.request_id = request_id
        self.qualifier = qualifier
        self.queue_urls = queue_urls
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)

        self.defer(
            trigger=LambdaInvocationTrigger(
                request_id=self.request_id,
                queue_urls=self._queue_urls(),
                timeout=float(self.timeout),
                poll_interval=int(self.poke_interval),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60),
        )

    def poke(self, context: Context) -> Any:
        async def poll() -> Any:
            hook = AwsBaseHook(client_type="sqs", **self._hook_parameters)
            async with await hook.get_async_conn() as sqs:
                return await poll_once(sqs, self._queue_urls(), self.request_id, wait_s=0)

        record = asyncio.run(poll())
        if record is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._result(record.to_dict()))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event:
            raise AirflowException(
                f"{self.function_name} request {self.request_id}: the trigger sent no event"
            )
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(
                f"{self.function_name} request {self.request_id}: no completion record on "
                f"{', '.join(event['queue_urls'])} within {self.timeout} s"
            )
        return self._result(event["record"])

    def _result(self, record: dict[str, Any]) -> Any:
        completion = CompletionRecord(**record)
        if not completion.succeeded:
            raise AirflowException(
                f"{self.function_name} request {self.request_id} failed after {completion.attempts} "
                f"attempt(s) ({completion.condition}): {completion.error_summary}"
            )
        self.log.info("%s request %s succeeded", self.function_name, self.request_id)
        return completion.response_payload

    def _queue_urls(self) -> list[str]:
        if self.queue_urls:
            return list(self.queue_urls)

        sqs = AwsBaseHook(client_type="sqs", **self._hook_parameters).conn
        self.queue_urls = destination_queue_urls(self.hook.conn, sqs, self.function_name, self.qualifier)
        return self.queue_urls
