"""boto3 clients the server uses to call itself (destinations, event source pollers).

Calling our own endpoint keeps behaviour identical to a user's client (SNS fan-out, SQS visibility,
DynamoDB Streams iterators). A marker header keeps these calls out of call counts and fault injection,
which describe what *clients* did.
"""

from __future__ import annotations

import threading
from typing import Any

INTERNAL_HEADER = "X-Lambdapipe-Internal"
INTERNAL_CREDENTIALS = ("lambdapipe-internal", "lambdapipe-internal")  # access key id, secret key


class InternalClients:
    """One cached, thread-safe boto3 client per (service, region)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=region,
                    aws_access_key_id=INTERNAL_CREDENTIALS[0],
                    aws_secret_access_key=INTERNAL_CREDENTIALS[1],
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50),
                )
                client.meta.events.register("before-sign.*.*", _mark_internal)
                self._clients[(service, region)] = client
            return client


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"
