"""What every HTTP endpoint of one deploy shares: the function and alias the endpoints invoke, the
clients, the resource policy, and a record of the writes made."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lambdapipe.deploy.endpoint_permissions import Permissions
from lambdapipe.deploy.errors import DeployError
from lambdapipe.packaging import lambda_api

log = logging.getLogger("lambdapipe.deploy.http_endpoints")

MANAGED_TAGS = {lambda_api.MANAGED_TAG: lambda_api.MANAGED_TAG_VALUE}


class Clients:
    """The deploy connection's Lambda client, and its API Gateway clients made on first use (a
    function without endpoints never needs them, nor the permission to call API Gateway)."""

    def __init__(self, lambda_client: Any, make: Callable[[str], Any]) -> None:
        self.lambda_ = lambda_client
        self._make = make

    @cached_property
    def rest(self) -> Any:
        return self._make("apigateway")

    @cached_property
    def http(self) -> Any:
        return self._make("apigatewayv2")


@dataclass
class EndpointContext:
    function_name: str
    target_arn: str  # the alias ARN (or the function's, for $LATEST)
    clients: Clients
    changed: bool = False
    permissions: Permissions = field(init=False)

    def __post_init__(self) -> None:
        self.permissions = Permissions(self.clients.lambda_, self.function_name, self.qualifier, self.wrote)

    @property
    def qualifier(self) -> str | None:
        parts = self.target_arn.split(":")
        return parts[7] if len(parts) > 7 else None

    @property
    def region(self) -> str:
        return self.target_arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.target_arn.split(":")[4]

    def wrote(self, what: str) -> None:
        self.changed = True
        log.info("%s: %s", self.function_name, what)

    def managed(
        self, kind: str, api: dict[str, Any] | None, tags: dict[str, str] | None, api_id: str
    ) -> dict | None:
        """``api`` if lambdapipe manages it; an untagged namesake is someone else's: refuse to touch it."""
        if api is None or (tags or {}).get(lambda_api.MANAGED_TAG) == lambda_api.MANAGED_TAG_VALUE:
            return api
        raise DeployError(
            f"{self.function_name}: {kind} {api_id} is named {self.function_name!r} but has no tag "
            f"{lambda_api.MANAGED_TAG}={lambda_api.MANAGED_TAG_VALUE}: lambdapipe does not take over an API it "
            "did not create; rename or delete it, or tag it to hand it over"
        )


def items(call: Any, key: str, **kwargs: Any) -> list[dict]:
    """Every item of a paged API Gateway listing (v2 pages with NextToken, v1 with position)."""
    found: list[dict] = []
    token: dict[str, str] = {}
    while True:
        page = call(**kwargs, **token)
        found += page.get(key, [])
        if page.get("NextToken"):
            token = {"NextToken": page["NextToken"]}
        elif page.get("position"):
            token = {"position": page["position"]}
        else:
            return found
