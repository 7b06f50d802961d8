"""Completion records of asynchronous invocations, read from a function's SQS destinations.

Lambda has no API to ask how an ``Event`` invocation ended. With OnSuccess / OnFailure destinations
it sends an invocation record (``requestContext.requestId``, ``condition``, ``responsePayload``) to a
queue. Waiting for one request id on a shared queue must not swallow other requests' records:
those are made visible again at once, for their own waiters (renewed on their last receive before
a dead-letter queue, see ``lambdapipe.events.queue_redrive``). The waiter's own record is only held
(hidden for ``visibility_timeout``) and deleted once the waiter's result is persisted, so a waiter
that dies in between finds it again on its retry (at-least-once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambdapipe.events.queue_redrive import RECEIVE_COUNT, receive_limit, renew_worn_messages


@dataclass(frozen=True)
class CompletionRecord:
    """How one asynchronous invocation ended."""

    request_id: str
    succeeded: bool
    condition: str
    function_arn: str
    response_payload: Any
    attempts: int

    @property
    def error_summary(self) -> str:
        payload = self.response_payload if isinstance(self.response_payload, dict) else {}
        if payload.get("errorType"):
            return f"{payload['errorType']}: {payload.get('errorMessage', '')}"
        return self.condition

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "succeeded": self.succeeded,
            "condition": self.condition,
            "function_arn": self.function_arn,
            "response_payload": self.response_payload,
            "attempts": self.attempts,
        }


def parse_record(body: Any) -> CompletionRecord | None:
    """A destination record from a message body, or None for anything else on the queue (a record
    without a request id is not one: it could belong to no waiter)."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        return None
    context = document.get("requestContext") if isinstance(document, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("requestId"), str):
        return None
    response = document.get("responseContext")
    response = response if isinstance(response, dict) else {}
    condition = context.get("condition") if isinstance(context.get("condition"), str) else ""
    function_arn = context.get("functionArn")
    return CompletionRecord(
        request_id=context["requestId"],
        succeeded=condition == "Success" and not response.get("functionError"),
        condition=condition,
        function_arn=function_arn if isinstance(function_arn, str) else "",
        response_payload=document.get("responsePayload"),
        attempts=_attempts(context.get("approximateInvokeCount")),
    )


def _attempts(count: Any) -> int:
    """Lambda's ``approximateInvokeCount``; 1 when it is missing or not a whole number."""
    if isinstance(count, bool):
        return 1
    if isinstance(count, int):
        return max(count, 1)
    if isinstance(count, str) and count.strip().isdigit():
        return max(int(count), 1)
    return 1


@dataclass(frozen=True)
class HeldRecord:
    """A completion record received and hidden, with what deleting its message takes."""

    record: CompletionRecord
    queue_url: str
    receipt_handle: str


async def hold_record(
    sqs: Any, queue_urls: list[str], request_id: str, wait_s: int, visibility_timeout: int = 300
) -> HeldRecord | None:
    """Receive from each queue once; hold ``request_id``'s record (hidden, not deleted), release all others."""
    for queue_url in queue_urls:
        response = await sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=[RECEIVE_COUNT],
            MessageAttributeNames=["All"],
        )
        found, others = None, []
        for message in response.get("Messages", []):
            record = parse_record(message["Body"])
            if record is not None and record.request_id == request_id and found is None:
                found = HeldRecord(record, queue_url, message["ReceiptHandle"])
            else:
                others.append(message)
        limit = await receive_limit(sqs, queue_url) if others else None
        for message in await renew_worn_messages(sqs, queue_url, others, limit):
            await sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        if found is not None:
            return found
    return None


async def delete_record(sqs: Any, queue_url: str, receipt_handle: str) -> None:
    """Delete a held record's message: its waiter's result is persisted."""
    await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


async def release_record(sqs: Any, queue_url: str, receipt_handle: str) -> None:
    """Make a held record visible again now: its waiter failed and will poll again."""
    await sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)


def destination_queue_urls(
    lambda_client: Any, sqs_client: Any, function_name: str, qualifier: str | None
) -> list[str]:
    """The SQS queues of the function's OnSuccess / OnFailure destinations (sync clients)."""
    kwargs = {"FunctionName": function_name} | ({"Qualifier": qualifier} if qualifier else {})
    try:
        config = lambda_client.get_function_event_invoke_config(**kwargs)
    except lambda_client.exceptions.ResourceNotFoundException:
        config = {}
    destinations = config.get("DestinationConfig") or {}
    arns = [
        (destinations.get(kind) or {}).get("Destination")
        for kind in ("OnSuccess", "OnFailure")
        if (destinations.get(kind) or {}).get("Destination")
    ]
    queues = [arn for arn in arns if arn.split(":")[2] == "sqs"]
    if not queues:
        raise ValueError(
            f"{function_name} has no SQS OnSuccess/OnFailure destination to wait on: set [event_invoke] "
            "on_success / on_failure in its function.toml (or pass the queue URLs explicitly)"
        )
    urls = []
    for arn in dict.fromkeys(queues):
        _, _, _, _, account, name = arn.split(":", 5)
        urls.append(sqs_client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])
    return urls
