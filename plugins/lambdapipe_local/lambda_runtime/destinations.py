"""Delivers async-invocation records to SQS, SNS or Lambda destinations by ARN.

Deliveries go through the server's own endpoint (see internal_clients), so SNS fan-out to
subscriptions and SQS behave exactly as for a client's calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambdapipe_local.moto_backend.internal_clients import InternalClients

AsyncLambdaInvoke = Callable[[str, bytes], None]


class DestinationDelivery:
    """Sends a JSON document to the resource an ARN names."""

    def __init__(self, clients: InternalClients, invoke_lambda_async: AsyncLambdaInvoke) -> None:
        self._clients = clients
        self._invoke_lambda_async = invoke_lambda_async

    def __call__(self, arn: str, document: Any, attributes: dict[str, str] | None = None) -> None:
        service, region = _arn_service(arn)
        body = json.dumps(document)
        if service == "sqs":
            client = self._clients.get("sqs", region)
            queue_url = client.get_queue_url(
                QueueName=arn.split(":")[5], QueueOwnerAWSAccountId=arn.split(":")[4]
            )
            client.send_message(
                QueueUrl=queue_url["QueueUrl"],
                MessageBody=body,
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
                },
            )
        elif service == "sns":
            self._clients.get("sns", region).publish(
                TopicArn=arn,
                Message=body,
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()
                },
            )
        elif service == "lambda":
            self._invoke_lambda_async(arn, body.encode("utf-8"))
        else:
            raise ValueError(
                f"destination {arn!r}: only SQS, SNS and Lambda destinations are emulated locally"
            )


def _arn_service(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"destination {arn!r} is not an ARN")
    return parts[2], parts[3]
