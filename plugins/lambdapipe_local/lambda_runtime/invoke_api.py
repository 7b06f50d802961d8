"""The Invoke API's HTTP semantics, and a fast path that answers it without moto's dispatcher.

Invoke is the hot call of a fan-out. moto's dispatcher costs more CPU per request than running a
warm function (it re-discovers the backend for every request), so Invoke requests identified by the
request middleware are answered here directly; everything else, including Invoke's errors, keeps
AWS's wire format.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
from lambdapipe_local.lambda_runtime.pool import ConcurrencyLimitExceeded

MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024

Response = tuple[int, dict[str, str], bytes]


def handle_invoke(
    service: LocalLambdaService,
    account_id: str,
    region: str,
    function_name: str,
    qualifier: str | None,
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    """RequestResponse, Event and DryRun. Raises moto's errors for unknown functions/qualifiers."""
    invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    spec, invoked_arn = service.resolve(account_id, region, function_name, qualifier)
    limit = MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else MAX_SYNC_REQUEST_BYTES
    if len(body) > limit:
        return error_response(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )
    event = body or b"{}"
    try:
        json.loads(event)
    except ValueError:
        return error_response(400, "InvalidRequestContentException", "Could not parse request body into json")
    if invocation_type == "DryRun":
        return 204, {"content-type": "application/json", "X-Amz-Executed-Version": spec.version}, b""
    try:
        client_context = _decode_client_context(headers.get("X-Amz-Client-Context"))
    except (ValueError, binascii.Error):
        return error_response(
            400, "InvalidRequestContentException", "Client context must be base64-encoded JSON"
        )
    # Checked, so it runs: an alias with routing weights may send it to its other version.
    spec, invoked_arn = service.routed(spec, invoked_arn, account_id, region, function_name, qualifier)
    response_headers = {"content-type": "application/json", "X-Amz-Executed-Version": spec.version}
    if invocation_type == "Event":
        request_id = service.invoke_async(spec, event, invoked_arn)
        return 202, response_headers | {"x-amzn-requestid": request_id}, b""
    try:
        result = service.invoke(spec, event, invoked_arn, client_context=client_context)
    except ConcurrencyLimitExceeded as throttle:
        status, error_headers, error_body = error_response(
            429, "TooManyRequestsException", str(throttle), Reason=throttle.reason, retryAfterSeconds="1"
        )
        return status, error_headers | {"Retry-After": "1"}, error_body
    response_headers["x-amzn-requestid"] = result.request_id
    if result.function_error:
        response_headers["X-Amz-Function-Error"] = result.function_error
    if headers.get("X-Amz-Log-Type") == "Tail":
        response_headers["X-Amz-Log-Result"] = result.log_tail_b64
    return 200, response_headers, result.payload


def error_response(status: int, error_type: str, message: str, **extra: Any) -> Response:
    body = json.dumps({"Type": "User", "message": message, **extra}).encode("utf-8")
    return status, {"x-amzn-ErrorType": error_type, "content-type": "application/json"}, body


def _decode_client_context(header: str | None) -> str | None:
    """Clients send base64; the Runtime API hands the runtime the JSON itself."""
    if not header:
        return None
    decoded = base64.b64decode(header, validate=True).decode("utf-8")
    json.loads(decoded)
    return decoded


class InvokeFastPath:
    """WSGI: answer ``lambda:Invoke`` (as identified by the request middleware) here, the rest via moto."""

    def __init__(self, app: Callable, service: Callable[[], LocalLambdaService]) -> None:
        self.app = app
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        from lambdapipe_local.front.middleware import AWS_REQUEST_ENVIRON_KEY

        request = environ.get(AWS_REQUEST_ENVIRON_KEY)
        if request is None or request.service != "lambda" or request.operation != "Invoke":
            return self.app(environ, start_response)
        status, headers, body = self._invoke(environ, request.region or "us-east-1")
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [*headers.items(), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _invoke(self, environ: dict[str, Any], region: str) -> Response:
        from moto.core.exceptions import JsonRESTError
        from werkzeug.datastructures import EnvironHeaders

        headers = EnvironHeaders(environ)
        path = environ.get("PATH_INFO", "")
        function_name = unquote(path.rstrip("/").rsplit("/", 2)[-2])
        qualifier = parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier", [None])[0]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            return handle_invoke(
                self.service(), _account_id(headers), region, function_name, qualifier, headers, body
            )
        except JsonRESTError as error:
            return (
                error.code,
                {"x-amzn-ErrorType": error.error_type, "content-type": "application/json"},
                error.get_body().encode("utf-8"),
            )


def _account_id(headers: Mapping[str, str]) -> str:
    """As moto resolves it: MOTO_ACCOUNT_ID, the x-moto-account-id header, else the access key's account."""
    from moto.iam.models import get_account_id_from

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if headers.get("x-moto-account-id"):
        return headers["x-moto-account-id"]
    authorization = headers.get("Authorization", "")
    access_key = (
        authorization.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in authorization else ""
    )
    return get_account_id_from(access_key or "AKIAEXAMPLE")
