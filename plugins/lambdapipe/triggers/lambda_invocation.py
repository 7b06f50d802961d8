"""Waits in the triggerer for an asynchronous invocation's completion record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from lambdapipe.invoking.completion_records import poll_once
from lambdapipe.triggers.base import AwsConnectionTrigger


class LambdaInvocationTrigger(AwsConnectionTrigger):
    """Polls the destination queues until ``request_id``'s record arrives or ``timeout`` passes.

    Yields ``{"status": "success"|"failure", "record": {...}}`` or ``{"status": "timeout", ...}``.
    """

    fields = ("request_id", "queue_urls", "timeout", "poll_interval")

    def __init__(
        self,
        *,
        request_id: str,
        queue_urls: list[str],
        timeout: float,
        poll_interval: int = 5,
        **connection: Any,
    ) -> None:
        super().__init__(**connection)
        self.request_id = request_id
        self.queue_urls = queue_urls
        self.timeout = timeout
        self.poll_interval = poll_interval

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook("sqs")
        deadline = time.monotonic() + self.timeout
        async with await hook.get_async_conn() as sqs:
            while time.monotonic() < deadline:
                wait_s = max(0, min(self.poll_interval, int(deadline - time.monotonic())))
                record = await poll_once(sqs, self.queue_urls, self.request_id, wait_s)
                if record is not None:
                    status = "success" if record.succeeded else "failure"
                    yield TriggerEvent({"status": status, "record": record.to_dict()})
                    return
                await asyncio.sleep(0.2)
        yield TriggerEvent(
            {"status": "timeout", "request_id": self.request_id, "queue_urls": self.queue_urls}
        )
