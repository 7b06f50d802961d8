"""Sensors for S3: wait for uploads announced by S3 event notifications on an SQS queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.sqs import SqsHook
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, PokeReturnValue, conf

from lambdapipe.events.s3_events import ObjectFilter
from lambdapipe.events.s3_queue import acknowledge, hold_objects, release_held
from lambdapipe.triggers.s3 import S3UploadTrigger
from lambdapipe.utils.callbacks import as_callback_list

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lambdapipe.events.s3_events import ObjectFilter


class S3UploadSensor(AwsBaseSensor[SqsHook]):
    """Wait until objects matching a prefix / suffix / regex are uploaded; return them (keys decoded).

    Reads the S3 event notifications a bucket sends to an SQS queue, so it sees new objects as they
    arrive instead of listing the bucket. The queue may be shared: messages about other objects are
    made visible again at once, untouched, and only the records of the objects returned are consumed.
    Nothing is consumed while fewer than ``min_count`` matching objects are visible, so a timed-out
    wait loses nothing. ``s3:TestEvent`` messages and non-S3 messages are left alone. Consuming is
    at-least-once: the objects' messages stay hidden while the task finishes and are deleted only once
    it succeeded; a try that dies before lets them come back for its retry (after
    ``visibility_timeout``).

    Example::

        S3UploadSensor(
            task_id="wait_for_csv",
            sqs_queue="https://sqs.eu-west-1.amazonaws.com/123456789012/upload-events",
            prefix="incoming/reports/",
            suffix=".csv",
            min_count=2,
            deferrable=True,
        )

    :param sqs_queue: URL of the queue the bucket's notifications go to. Templated.
    :param prefix: Wanted keys start with it (keys are compared decoded). Templated.
    :param suffix: Wanted keys end with it. Templated.
    :param pattern: A regular expression wanted keys contain (``re.search``). Templated.
    :param bucket: Only objects of this bucket (default: any bucket notifying the queue). Templated.
    :param created_only: Only ``ObjectCreated:*`` events (deletions etc. are not uploads).
    :param min_count: Wait until at least this many matching objects are visible together.
    :param max_messages: Messages read per poll at most (also bounds the objects returned).
    :param visibility_timeout: Seconds the returned objects' messages stay hidden until the task
        succeeded and deleted them (other messages are released at once). Keep it above the time from
        the poll to the task's success, a deferred task's resume included.
    :param deferrable: Wait in the triggerer (no worker slot held).
    :return: The objects, as dicts: ``bucket``, ``key``, ``event_name``, ``size``, ``etag``,
        ``sequencer``, ``event_time``.
    """

    aws_hook_class = SqsHook
    template_fields: Sequence[str] = aws_template_fields("sqs_queue", "prefix", "suffix", "pattern", "bucket")

    def __init__(
        self,
        *,
        sqs_queue: str,
        prefix: str = "",
        suffix: str = "",
        pattern: str | None = None,
        bucket: str | None = None,
        created_only: bool = True,
        min_count: int = 1,
        max_messages: int = 100,
        visibility_timeout: int = 300,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 5)
        kwargs.setdefault("timeout", 60 * 60)
        super().__init__(**kwargs)
        if not 1 <= min_count <= max_messages:
            raise ValueError(
                f"{self.task_id}: min_count must be between 1 and max_messages ({max_messages}), got {min_count}"
            )
        self.sqs_queue = sqs_queue
        self.prefix = prefix
        self.suffix = suffix
        self.pattern = pattern
        self.bucket = bucket
        self.created_only = created_only
        self.min_count = min_count
        self.max_messages = max_messages
        self.visibility_timeout = visibility_timeout
        self.deferrable = deferrable
        self._visible = 0
        self._held: list[dict[str, Any]] = []
        self.on_success_callback = [*as_callback_list(self.on_success_callback), _delete_held_messages]
        self.on_retry_callback = [*as_callback_list(self.on_retry_callback), _release_held_messages]

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as error:
                raise AirflowSensorTimeout(self._timeout_message(self._visible)) from error

        self.defer(
            trigger=S3UploadTrigger(
                sqs_queue=self.sqs_queue,
                timeout=float(self.timeout),
                prefix=self.prefix,
                suffix=self.suffix,
                pattern=self.pattern,
                created_only=self.created_only,
                bucket=self.bucket,
                min_count=self.min_count,
                max_messages=self.max_messages,
                visibility_timeout=self.visibility_timeout,
                poll_interval=float(self.poke_interval),
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
                return await hold_objects(
                    sqs,
                    self.sqs_queue,
                    self._filter(),
                    bucket=self.bucket,
                    min_count=self.min_count,
                    max_messages=self.max_messages,
                    visibility_timeout=self.visibility_timeout,
                )

        result = asyncio.run(poll())
        self._visible = result.visible
        if not result.taken:
            self.log.info(
                "%d of %d wanted object(s) visible on %s", result.visible, self.min_count, self.sqs_queue
            )
            return False
        self._held = result.held
        return PokeReturnValue(is_done=True, xcom_value=self._found([e.to_dict() for e in result.taken]))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        if not event:
            raise AirflowException(f"{self.task_id}: the trigger sent no event")
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(self._timeout_message(event["visible"]))
        self._held = event["held"]
        return self._found(event["objects"])

    def delete_held_messages(self) -> None:
        """Delete the returned objects' messages (the task succeeded: the objects are in XCom for good)."""
        if self._held:
            deleted = self._with_held_messages(acknowledge)
            self.log.info("Deleted %d of %d message(s) of the objects returned", deleted, len(self._held))

    def release_held_messages(self) -> None:
        """Make the held messages visible again at once, for the retry (not after ``visibility_timeout``)."""
        if self._held:
            self._with_held_messages(release_held)

    def _with_held_messages(self, action: Callable[[Any, str, list[dict[str, Any]]], Awaitable[Any]]) -> Any:
        """Run ``action(sqs, queue_url, held)`` on an async SQS client; its result."""

        async def run() -> Any:
            async with await AwsBaseHook(client_type="sqs", **self._hook_parameters).get_async_conn() as sqs:
                return await action(sqs, self.sqs_queue, self._held)

        return asyncio.run(run())

    def _found(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.log.info(
            "%d object(s) matching %s on %s: %s",
            len(objects),
            self._filter(),
            self.sqs_queue,
            ", ".join(f"s3://{o['bucket']}/{o['key']}" for o in objects[:20])
            + (" ..." if len(objects) > 20 else ""),
        )
        return objects

    def _filter(self) -> ObjectFilter:
        return ObjectFilter(self.prefix, self.suffix, self.pattern, self.created_only)

    def _timeout_message(self, visible: int) -> str:
        where = f"bucket {self.bucket!r}, " if self.bucket else ""
        return (
            f"{self.task_id}: {visible} of the {self.min_count} wanted object(s) ({where}prefix={self.prefix!r}, "
            f"suffix={self.suffix!r}, pattern={self.pattern!r}) were visible on {self.sqs_queue} when the "
            f"{self.timeout:.0f} s timeout passed; no message was consumed"
        )


# Callbacks read the task from the context: Airflow runs a copy of the operator, and that copy holds
# the messages (a method of the DAG's own instance would see none).
def _delete_held_messages(context: Context) -> None:
    context["task"].delete_held_messages()


def _release_held_messages(context: Context) -> None:
    context["task"].release_held_messages()
