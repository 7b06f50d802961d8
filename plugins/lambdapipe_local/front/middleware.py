"""WSGI middleware in front of the local AWS app: counts calls, injects faults, serves the admin API.

Admin endpoints (JSON; never forwarded to the wrapped app, never counted):

    GET    /_lambdapipe/health       -> {"status": "ok"}
    GET    /_lambdapipe/faults       -> {"faults": [{"id", "rule": {...}, "hits"}]}
    POST   /_lambdapipe/faults       body: a FaultRule as JSON -> 201 {"id", "rule"}; 400 {"error"}
    DELETE /_lambdapipe/faults       -> {"removed": n}
    DELETE /_lambdapipe/faults/{id}  -> {"removed": 1}; 404 {"error"}
    GET    /_lambdapipe/calls        -> {"calls": {key: n}, "faults_injected": {...}, "delays_injected": {...}}
    DELETE /_lambdapipe/calls        -> {"status": "ok"}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from lambdapipe_local.admin.calls import CallCounter
from lambdapipe_local.admin.fault_responses import render_fault
from lambdapipe_local.admin.faults import FaultInjector, FaultRule
from lambdapipe_local.front.aws_request import identify_request
from lambdapipe_local.moto_backend.internal_clients import INTERNAL_HEADER

ADMIN_PREFIX = "/_lambdapipe"
# The server's calls to itself (destinations, event source pollers) describe no client's behaviour:
# they are neither counted nor faulted.
INTERNAL_ENVIRON_KEY = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
# The identified AwsRequest is left here for the wrapped app, so it need not parse the request again.
AWS_REQUEST_ENVIRON_KEY = "lambdapipe_local.aws_request"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AwsRequestMiddleware:
    """Wrap a WSGI app serving AWS APIs with call counting and fault injection."""

    def __init__(self, app: WsgiApp, injector: FaultInjector, counter: CallCounter) -> None:
        self.app = app
        self.injector = injector
        self.counter = counter

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(environ, start_response, path[len(ADMIN_PREFIX) :])
        if environ.get(INTERNAL_ENVIRON_KEY):
            return self.app(environ, start_response)
        request = environ.get(AWS_REQUEST_ENVIRON_KEY) or identify_request(environ)  # by ChangeTracking
        environ[AWS_REQUEST_ENVIRON_KEY] = request
        rule = self.injector.match(request)
        if rule is None:
            self.counter.record(request)
            return self.app(environ, start_response)
        self.counter.record(request, faulted=rule.error is not None, delayed=rule.latency_ms > 0)
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if rule.error is None:
            return self.app(environ, start_response)
        response = render_fault(rule.error, request, environ)
        start_response(response.status, response.headers)
        return [response.body]

    def _admin(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = route.rstrip("/")
        handlers: dict[str, Callable[[], tuple[int, Any]]] | None
        if route.startswith("/faults/"):
            handlers = {"DELETE": lambda: self._remove_fault(route.removeprefix("/faults/"))}
        else:
            handlers = {
                "/health": {"GET": lambda: (200, {"status": "ok"})},
                "/faults": {
                    "GET": lambda: (200, {"faults": [fault.to_dict() for fault in self.injector.rules()]}),
                    "POST": lambda: self._add_fault(environ),
                    "DELETE": lambda: (200, {"removed": self.injector.clear()}),
                },
                "/calls": {
                    "GET": lambda: (200, self.counter.snapshot().to_dict()),
                    "DELETE": self._reset_calls,
                },
            }.get(route)
        if handlers is None:
            return _json_response(start_response, 404, {"error": f"no admin endpoint {ADMIN_PREFIX}{route}"})
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(handlers)
            message = f"{method} not allowed on {ADMIN_PREFIX}{route}; use {allowed}"
            return _json_response(start_response, 405, {"error": message}, [("Allow", allowed)])
        status, payload = handler()
        return _json_response(start_response, status, payload)

    def _add_fault(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            rule = FaultRule.from_dict(json.loads(environ["wsgi.input"].read(length) or b"null"))
        except (ValueError, TypeError) as error:  # FaultRuleError and JSONDecodeError are ValueErrors
            return 400, {"error": str(error)}
        return 201, {"id": self.injector.add(rule), "rule": rule.to_dict()}

    def _remove_fault(self, fault_id: str) -> tuple[int, dict[str, Any]]:
        if self.injector.remove(fault_id):
            return 200, {"removed": 1}
        return 404, {"error": f"no fault rule with id {fault_id!r} (a rule with a count expires when spent)"}

    def _reset_calls(self) -> tuple[int, dict[str, Any]]:
        self.counter.reset()
        return 200, {"status": "ok"}


def _json_response(
    start_response: StartResponse,
    status: int,
    payload: Any,
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        *(extra_headers or []),
    ]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]
