"""Keep other consumers' messages out of a shared queue's dead-letter queue.

A consumer that waits for some messages on a shared queue receives the others too and releases
them; SQS counts every receive, and with a redrive policy a message received ``maxReceiveCount``
times moves to the dead-letter queue although its owner never saw it. Before releasing such a
message on its last receive, the consumer sends a fresh copy (receive count 0) and deletes the
original: its owner still gets it, under a new message id.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

RECEIVE_COUNT = "ApproximateReceiveCount"


async def receive_limit(sqs: Any, queue_url: str) -> int | None:
    """The queue's ``maxReceiveCount`` (None: no redrive policy, receives are free)."""
    response = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = response.get("Attributes", {}).get("RedrivePolicy")
    return int(json.loads(policy)["maxReceiveCount"]) if policy else None


async def renew_worn_messages(
    sqs: Any, queue_url: str, messages: list[dict[str, Any]], limit: int | None
) -> list[dict[str, Any]]:
    """Copy and delete the messages on their last receive before the dead-letter queue; the others, to release.

    A message whose copy could not be sent is left to be released as it is.
    """
    if limit is None:
        return messages
    to_release = []
    for message in messages:
        if int(message.get("Attributes", {}).get(RECEIVE_COUNT, 0)) < limit - 1:
            to_release.append(message)
            continue
        try:
            copy = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                copy["MessageAttributes"] = message["MessageAttributes"]
            await sqs.send_message(**copy)
            await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:  # any failure: release the original, as before
            log.warning(
                "Could not renew message %s before the dead-letter queue: %s", message["MessageId"], error
            )
            to_release.append(message)
    return to_release
