"""HTTP into a deployed function, as ``function.toml``'s ``[http]`` asks: an HTTP API (payload 2.0),
a REST API (payload 1.0) and a function URL, each invoking the deployed alias.

Every deploy reads first and writes only what differs (``http_api``, ``rest_api``,
``function_url``), and takes down what ``[http]`` no longer lists: the endpoints lambdapipe made are
the ones whose permission statement it finds in the function's resource policy, so a function that
never had endpoints costs one policy read and no API Gateway call.

The URLs reported are AWS's own; behind a custom endpoint (the local stack, or any emulator serving
AWS's APIs) they are the path-style URLs it serves: ``<endpoint>/_aws/execute-api/<api-id>[/<stage>]``
and ``<endpoint>/_aws/lambda-url/<url-id>``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from lambdapipe.deploy import function_url, http_api, rest_api
from lambdapipe.deploy.endpoint_context import Clients, EndpointContext
from lambdapipe.packaging.http_settings import HttpSettings

KINDS = {"http-api": http_api, "rest-api": rest_api, "function-url": function_url}
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

__all__ = ["Clients", "HttpEndpoints"]


class HttpEndpoints:
    """The ``[http]`` endpoints of one function (``settings`` None: it has none), invoking ``target_arn``."""

    def __init__(
        self, settings: HttpSettings | None, function_name: str, target_arn: str, clients: Clients
    ) -> None:
        self.settings = settings
        self.context = EndpointContext(function_name, target_arn, clients)

    @property
    def changed(self) -> bool:
        """Whether ``ensure`` made any write call."""
        return self.context.changed

    def ensure(self) -> dict[str, str]:
        """Take down the endpoints ``[http]`` no longer lists, then create or bring in line the rest;
        returns kind -> base URL."""
        wanted = self.settings.apis if self.settings else ()
        granted = self.context.permissions.current()
        for kind, module in KINDS.items():
            if kind not in wanted and module.STATEMENT_ID in granted:
                module.remove(self.context)
        if self.settings is None:
            return {}
        return {kind: self._url(kind, KINDS[kind].ensure(self.context, self.settings)) for kind in wanted}

    def find(self) -> dict[str, str]:
        """The base URL of each listed endpoint that exists already (no write): ``lambdapipe url``."""
        found = {}
        for kind in self.settings.apis if self.settings else ():
            existing = KINDS[kind].find(self.context)
            if existing is not None:
                found[kind] = self._url(kind, existing)
        return found

    def _url(self, kind: str, found: dict[str, Any]) -> str:
        emulator = self._emulator_endpoint()
        region = self.context.region
        if kind == "function-url":
            if emulator:
                return f"{emulator}/_aws/lambda-url/{(urlparse(found['FunctionUrl']).hostname or '').split('.')[0]}"
            return found["FunctionUrl"].rstrip("/")
        api_id = found["ApiId"] if kind == "http-api" else found["id"]
        stage = f"/{self.settings.stage}" if kind == "rest-api" and self.settings else ""
        if emulator:
            return f"{emulator}/_aws/execute-api/{api_id}{stage}"
        default = f"https://{api_id}.execute-api.{region}.amazonaws.com"
        return (found.get("ApiEndpoint") or default) + stage

    def _emulator_endpoint(self) -> str | None:
        """The client's endpoint when it is not AWS's own (a local stack), else None."""
        endpoint = self.context.clients.lambda_.meta.endpoint_url.rstrip("/")
        return None if (urlparse(endpoint).hostname or "").endswith(AWS_HOST_SUFFIXES) else endpoint
