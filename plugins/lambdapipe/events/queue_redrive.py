"""Keep other consumers' messages out of a shared queue's dead-letter queue.

A consumer that waits for some messages on a shared queue receives the others too and releases
them; SQS counts every receive, and with a redrive policy a message received ``maxReceiveCount``
times moves to the dead-letter queue although its owner never saw it. Before releasing such a
message on its last receive, the consumer sends a fresh copy (receive count 0) and deletes the
original: its owner still gets it, under a new message id. A message is renewed at most
``MAX_RENEWALS`` times (a message attribute counts them): one that no consumer ever takes still
reaches the dead-letter queue in the end.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

RECEIVE_COUNT = "ApproximateReceiveCount"
RENEWALS = "lambdapipe-renewals"
MAX_RENEWALS = 5


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
        attributes = {
            name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        renewals = int(attributes.get(RENEWALS, {}).get("StringValue", 0))
        if int(message.get("Attributes", {}).get(RECEIVE_COUNT, 0)) < limit - 1 or renewals >= MAX_RENEWALS:
            to_release.append(message)
            continue
        try:
            counted = {RENEWALS: {"DataType": "Number", "StringValue": str(renewals + 1)}}
            await sqs.send_message(
                QueueUrl=queue_url, MessageBody=message["Body"], MessageAttributes={**attributes, **counted}
            )
            await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:  # any failure: release the original, as before
            log.warning(
                "Could not renew message %s before the dead-letter queue: %s", message["MessageId"], error
            )
            to_release.append(message)
    return to_release
