"""The S3 notifications that triggered an upload run: held while the run works, deleted once it recorded.

The watcher (the provider's SQS trigger) does not delete on receipt: it receives each message with a
visibility timeout (``WATCHER_VISIBILITY_S``), so the message stays hidden while the run it started
works. ``collect_uploads`` extends the hold to ``RUN_HOLD_S``; ``record_uploads`` deletes the
messages after its commit. A run that dies before lets its messages come back, and the watcher starts
another run for them: at-least-once, with the hourly reconcile as a safety net only.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

WATCHER_VISIBILITY_S = 900
# Longer than an upload claim's staleness (uploads.STALE_CLAIM_S): when a dead run's messages come
# back, its claims are stale and the run they start takes them over instead of skipping them.
RUN_HOLD_S = 3600 + 300
SQS_BATCH = 10


def triggering_messages(asset_events: list[Any]) -> list[dict[str, Any]]:
    """The SQS messages (with their receipt handles) behind a run's triggering asset events."""
    messages = []
    for asset_event in asset_events:
        payload = (getattr(asset_event, "extra", None) or {}).get("payload") or {}
        messages += [
            message
            for message in payload.get("message_batch", [])
            if isinstance(message, dict) and message.get("ReceiptHandle")
        ]
    return messages


def hold(sqs: Any, queue_url: str, messages: list[dict[str, Any]], seconds: int = RUN_HOLD_S) -> None:
    """Keep the messages hidden for ``seconds`` more (the run is still working on them)."""
    for chunk in _chunks(messages):
        response = sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": seconds}
                for index, message in enumerate(chunk)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning(
                "Could not extend the hold on message %s (it may come back and start another run, "
                "which finds its uploads claimed or recorded): %s",
                chunk[int(failure["Id"])].get("MessageId"),
                failure.get("Message") or failure.get("Code"),
            )


def acknowledge(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> int:
    """Delete the messages once the run recorded its uploads; the number deleted.

    A message whose delete fails (its hold expired and someone received it again) comes back and
    starts a run that finds its uploads recorded: nothing is processed twice.
    """
    deleted = 0
    for chunk in _chunks(messages):
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(chunk)
            ],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            log.warning(
                "Could not delete message %s: %s",
                chunk[int(failure["Id"])].get("MessageId"),
                failure.get("Message") or failure.get("Code"),
            )
    return deleted


def _chunks(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [messages[start : start + SQS_BATCH] for start in range(0, len(messages), SQS_BATCH)]
