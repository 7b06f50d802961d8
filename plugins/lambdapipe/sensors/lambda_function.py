"""Sensors for AWS Lambda: wait for an asynchronous (``Event``) invocation to finish."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, PokeReturnValue, conf

from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking.completion_records import (
    CompletionRecord,
    delete_record,
    destination_queue_urls,
    hold_record,
    release_record,
)
from lambdapipe.triggers.lambda_invocation import LambdaInvocationTrigger
from lambdapipe.utils.callbacks import as_callback_list

if TYPE_CHECKING:
    from airflow.sdk import Context


class LambdaInvocationSensor(AwsBaseSensor[LambdaHook]):
    """Wait for the completion record of one asynchronous invocation and return its result.

    Lambda reports how an ``Event`` invocation ended only through its destinations, so the function
    needs an SQS OnSuccess and/or OnFailure destination (``[event_invoke]`` in ``function.toml``).
    Records of other invocations on the same queue are left for their own sensors. The record is
    deleted only once the task ended for good (succeeded, or failed with no retry left); a try that
    dies before finds it again on its retry, after ``visibility_timeout``.

    :param function_name: The invoked function. Templated.
    :param request_id: The invocation's request id (``LambdaInvokeOperator(invocation_type="Event")``
        returns it: ``"{{ ti.xcom_pull('invoke')['request_id'] }}"``). Templated.
    :param qualifier: The qualifier it was invoked with, to find the destinations. Templated.
    :param queue_urls: Destination queues to read (default: from the function's event-invoke config).
    :param visibility_timeout: Seconds the found record stays hidden from other waiters until the
        task deletes it; keep it above the time from the poll to the task's end.
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
        visibility_timeout: int = 300,
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
        self.visibility_timeout = visibility_timeout
        self.deferrable = deferrable
        self._held: dict[str, str] | None = None
        self.on_success_callback = [*as_callback_list(self.on_success_callback), _delete_held_record]
        self.on_failure_callback = [*as_callback_list(self.on_failure_callback), _delete_held_record]
        self.on_retry_callback = [*as_callback_list(self.on_retry_callback), _release_held_record]

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)

        self.defer(
            trigger=LambdaInvocationTrigger(
                request_id=self.request_id,
                queue_urls=self._queue_urls(),
                timeout=float(self.timeout),
                poll_interval=int(self.poke_interval),
                visibility_timeout=self.visibility_timeout,
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
                return await hold_record(
                    sqs,
                    self._queue_urls(),
                    self.request_id,
                    wait_s=0,
                    visibility_timeout=self.visibility_timeout,
                )

        held = asyncio.run(poll())
        if held is None:
            return False
        self._held = {"queue_url": held.queue_url, "receipt_handle": held.receipt_handle}
        return PokeReturnValue(is_done=True, xcom_value=self._result(held.record.to_dict()))

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
        self._held = event["held"]
        return self._result(event["record"])

    def delete_held_record(self) -> None:
        """Delete the completion record: the task ended for good (its result, or its failure, is recorded)."""
        if self._with_held_record(delete_record):
            self.log.info("Deleted the completion record of request %s", self.request_id)

    def release_held_record(self) -> None:
        """Make the record visible again at once, for the retry (not after ``visibility_timeout``)."""
        self._with_held_record(release_record)

    def _with_held_record(self, action: Callable[[Any, str, str], Awaitable[None]]) -> bool:
        """Run ``action(sqs, queue_url, receipt_handle)`` on the held record; False when none is held."""
        if self._held is None:
            return False
        held = self._held

        async def run() -> None:
            async with await AwsBaseHook(client_type="sqs", **self._hook_parameters).get_async_conn() as sqs:
                await action(sqs, held["queue_url"], held["receipt_handle"])

        asyncio.run(run())
        return True

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


# Callbacks read the task from the context: Airflow runs a copy of the operator, and that copy holds
# the record (a method of the DAG's own instance would see none).
def _delete_held_record(context: Context) -> None:
    context["task"].delete_held_record()


def _release_held_record(context: Context) -> None:
    context["task"].release_held_record()
