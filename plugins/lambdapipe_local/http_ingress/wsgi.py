"""WSGI: requests addressed to an API or a function URL invoke its Lambda function; the rest pass on.

Placed outside the signature check (these requests are anonymous, as on AWS with no authorizer) and
inside the browser guard (a web page still cannot drive the stack).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from http.client import responses
from typing import Any

from lambdapipe_local.front.aws_request import read_body
from lambdapipe_local.http_ingress import payloads, targets
from lambdapipe_local.http_ingress.addresses import Address, address_of
from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
from lambdapipe_local.lambda_runtime.pool import ConcurrencyLimitExceeded

log = logging.getLogger(__name__)


class HttpIngress:
    """Serve API Gateway and function URL requests; pass everything else to ``app``."""

    def __init__(self, app: Callable, service: Callable[[], LocalLambdaService]) -> None:
        self.app = app
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        address = address_of(environ.get("HTTP_HOST", ""), _path(environ))
        if address is None:
            return self.app(environ, start_response)
        request = _request(environ, address)
        try:
            target = targets.find(address, request.method)
            answer = self._invoke(target, request)
        except targets.NoTarget as miss:
            log.info("%s %s: %s", request.method, request.path, miss)
            answer = payloads.error(miss.status, miss.message)
        body = b"" if request.method == "HEAD" else answer.body
        start_response(
            f"{answer.status} {responses.get(answer.status, 'Unknown')}",  # a function may send 299 or 520
            [*answer.headers, ("Content-Length", str(len(answer.body)))],
        )
        return [body]

    def _invoke(self, target: targets.Target, request: payloads.HttpRequest) -> payloads.HttpResponse:
        from moto.core.exceptions import JsonRESTError

        service = self.service()
        region, account = target.function_arn.split(":")[3:5]  # the integration may name another region
        try:
            spec, invoked_arn = service.resolve(account, region, target.function_arn, route=True)
        except JsonRESTError as error:
            log.warning("%s: integration target %s: %s", target.api_id, target.function_arn, error.message)
            return payloads.error(500, "Internal Server Error")
        event = payloads.event(target, request)
        try:
            result = service.invoke(spec, json.dumps(event).encode("utf-8"), invoked_arn)
        except ConcurrencyLimitExceeded:
            return payloads.error(429, "Too Many Requests")
        return payloads.response(target, result.payload, bool(result.function_error))


def _request(environ: dict[str, Any], address: Address) -> payloads.HttpRequest:
    headers = [
        (key[5:].replace("_", "-").title(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").title(), environ[key]))
    return payloads.HttpRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=address.path,
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=read_body(environ),
        source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        host=environ.get("HTTP_HOST", "").rsplit(":", 1)[0],
    )


def _path(environ: dict[str, Any]) -> str:
    """The request path as text: WSGI gives its UTF-8 bytes decoded as Latin-1."""
    return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
