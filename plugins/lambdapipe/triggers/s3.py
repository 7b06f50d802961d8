"""Waits in the triggerer for S3 objects announced on an SQS queue of S3 event notifications."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from lambdapipe.events.s3_events import ObjectFilter
from lambdapipe.events.s3_queue import hold_objects
from lambdapipe.triggers.base import AwsConnectionTrigger


class S3UploadTrigger(AwsConnectionTrigger):
    """Polls ``sqs_queue`` until ``min_count`` wanted objects are visible together, or ``timeout`` passes.

    Yields ``{"status": "success", "objects": [...], "held": [...]}`` (the objects' messages stay
    hidden for ``visibility_timeout``; the sensor deletes them once its task succeeded) or
    ``{"status": "timeout", "visible": N, ...}`` (nothing consumed). The filter arguments are those of
    ``lambdapipe.events.s3_events.ObjectFilter``. A triggerer restart starts the wait again from the queue,
    which is safe: nothing is deleted here.
    """

    fields = (
        "sqs_queue",
        "timeout",
        "prefix",
        "suffix",
        "pattern",
        "created_only",
        "bucket",
        "min_count",
        "max_messages",
        "visibility_timeout",
        "poll_interval",
    )

    def __init__(
        self,
        *,
        sqs_queue: str,
        timeout: float,
        prefix: str = "",
        suffix: str = "",
        pattern: str | None = None,
        created_only: bool = True,
        bucket: str | None = None,
        min_count: int = 1,
        max_messages: int = 100,
        visibility_timeout: int = 300,
        poll_interval: float = 5,
        **connection: Any,
    ) -> None:
        super().__init__(**connection)
        self.sqs_queue = sqs_queue
        self.timeout = timeout
        self.prefix = prefix
        self.suffix = suffix
        self.pattern = pattern
        self.created_only = created_only
        self.bucket = bucket
        self.min_count = min_count
        self.max_messages = max_messages
        self.visibility_timeout = visibility_timeout
        self.poll_interval = poll_interval

    async def run(self) -> AsyncIterator[TriggerEvent]:
        wanted = ObjectFilter(self.prefix, self.suffix, self.pattern, self.created_only)
        hook = self.hook("sqs")
        deadline = time.monotonic() + self.timeout
        visible = 0
        async with await hook.get_async_conn() as sqs:
            while time.monotonic() < deadline:
                started = time.monotonic()
                wait_s = int(max(0, min(self.poll_interval, 20, deadline - started)))
                poll = await hold_objects(
                    sqs,
                    self.sqs_queue,
                    wanted,
                    bucket=self.bucket,
                    min_count=self.min_count,
                    wait_s=wait_s,
                    max_messages=self.max_messages,
                    visibility_timeout=self.visibility_timeout,
                )
                if poll.taken:
                    objects = [event.to_dict() for event in poll.taken]
                    yield TriggerEvent({"status": "success", "objects": objects, "held": poll.held})
                    return
                visible = poll.visible
                # Other consumers' messages end a long poll early: never poll faster than poll_interval.
                next_poll = min(started + self.poll_interval, deadline)
                await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
        yield TriggerEvent(
            {
                "status": "timeout",
                "visible": visible,
                "min_count": self.min_count,
                "sqs_queue": self.sqs_queue,
            }
        )
