"""Waits in the triggerer for an asynchronous invocation's completion record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from lambdapipe.invoking.completion_records import hold_record
from lambdapipe.triggers.base import AwsConnectionTrigger


class LambdaInvocationTrigger(AwsConnectionTrigger):
    """Polls the destination queues until ``request_id``'s record arrives or ``timeout`` passes.

    Yields ``{"status": "success"|"failure", "record": {...}, "held": {...}}`` (the record's message
    stays hidden for ``visibility_timeout``; the sensor deletes it once its task ended) or
    ``{"status": "timeout", ...}``.
    """

    fields = ("request_id", "queue_urls", "timeout", "poll_interval", "visibility_timeout")

    def __init__(
        self,
        *,
        request_id: str,
        queue_urls: list[str],
        timeout: float,
        poll_interval: int = 5,
        visibility_timeout: int = 300,
        **connection: Any,
    ) -> None:
        super().__init__(**connection)
        self.request_id = request_id
        self.queue_urls = queue_urls
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.visibility_timeout = visibility_timeout

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook("sqs")
        deadline = time.monotonic() + self.timeout
        async with await hook.get_async_conn() as sqs:
            while time.monotonic() < deadline:
                wait_s = max(0, min(self.poll_interval, int(deadline - time.monotonic())))
                held = await hold_record(
                    sqs, self.queue_urls, self.request_id, wait_s, self.visibility_timeout
                )
                if held is not None:
                    status = "success" if held.record.succeeded else "failure"
                    message = {"queue_url": held.queue_url, "receipt_handle": held.receipt_handle}
                    yield TriggerEvent({"status": status, "record": held.record.to_dict(), "held": message})
                    return
                await asyncio.sleep(0.2)
        yield TriggerEvent(
            {"status": "timeout", "request_id": self.request_id, "queue_urls": self.queue_urls}
        )
