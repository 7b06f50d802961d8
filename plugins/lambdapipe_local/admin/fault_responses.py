"""The injectable AWS errors and their exact wire format.

Each error is rendered the way the real service sends it (status, headers, body shape for the
request's protocol), so botocore raises the same `ClientError` code and applies the same retry
policy (throttling vs transient) as against AWS.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

from lambdapipe_local.front.aws_request import AwsRequest

MESSAGE_PREFIX = "Fault injected by lambdapipe"


@dataclass(frozen=True)
class ErrorKind:
    """An injectable error: where it applies and what AWS answers."""

    services: frozenset[str] | None  # None: any service
    operations: frozenset[str] | None  # None: any operation of those services
    status: int
    code: str | None  # None: the service's own internal-error code (INTERNAL_ERROR_CODES)
    message: str


ERROR_KINDS: Mapping[str, ErrorKind] = {
    "lambda_throttle": ErrorKind(
        frozenset({"lambda"}), None, 429, "TooManyRequestsException", "Rate Exceeded."
    ),
    "lambda_unhandled": ErrorKind(frozenset({"lambda"}), frozenset({"Invoke"}), 200, "InjectedFault", ""),
    "s3_internal_error": ErrorKind(
        frozenset({"s3"}), None, 500, "InternalError", "We encountered an internal error. Please try again."
    ),
    "s3_slow_down": ErrorKind(frozenset({"s3"}), None, 503, "SlowDown", "Please reduce your request rate."),
    "dynamodb_throughput": ErrorKind(
        frozenset({"dynamodb"}),
        None,
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    "internal_error": ErrorKind(None, None, 500, None, "Internal server error."),
}

# The 500 error code each service models; AWS's common `InternalFailure` for the rest.
INTERNAL_ERROR_CODES = {
    "sns": "InternalError",
    "s3": "InternalError",
    "dynamodb": "InternalServerError",
    "lambda": "ServiceException",
    "cloudwatch": "InternalServiceError",
}
DEFAULT_INTERNAL_ERROR_CODE = "InternalFailure"
# Services whose JSON errors carry the legacy query error code in `x-amzn-query-error`.
QUERY_COMPATIBLE_SERVICES = frozenset({"sqs", "cloudwatch"})
_JSON_NAMESPACES = {"dynamodb": "com.amazonaws.dynamodb.v20120810"}


@dataclass(frozen=True)
class FaultResponse:
    status: str  # WSGI status line, e.g. "429 Too Many Requests"
    headers: list[tuple[str, str]]
    body: bytes


def render_fault(kind_name: str, request: AwsRequest, environ: Mapping[str, Any]) -> FaultResponse:
    """The HTTP response AWS would send for this error on this request."""
    kind = ERROR_KINDS[kind_name]
    code = kind.code or INTERNAL_ERROR_CODES.get(request.service, DEFAULT_INTERNAL_ERROR_CODE)
    message = kind.message or f"{MESSAGE_PREFIX} ({kind_name})"
    request_id = str(uuid.uuid4())
    if kind_name == "lambda_unhandled":
        response = _lambda_unhandled(message, request_id, environ)
    elif request.protocol == "rest-xml":
        response = _rest_xml(kind.status, code, message, request_id)
    elif request.protocol == "query":
        response = _query(kind.status, code, message, request_id)
    elif request.protocol == "json":
        response = _json(kind.status, code, message, request_id, request.service, environ)
    elif request.protocol == "smithy-rpc-v2-cbor":
        response = _rpc_v2_cbor(kind.status, code, message, request_id, request.service)
    else:
        response = _rest_json(kind.status, code, message, request_id, request)
    if environ.get("REQUEST_METHOD") == "HEAD":
        response = FaultResponse(response.status, response.headers, b"")
    response.headers.append(("Content-Length", str(len(response.body))))
    return response


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _fault_side(status: int) -> str:
    return "Receiver" if status >= 500 else "Sender"


def _lambda_unhandled(message: str, request_id: str, environ: Mapping[str, Any]) -> FaultResponse:
    headers = [("x-amzn-RequestId", request_id), ("X-Amz-Executed-Version", "$LATEST")]
    if environ.get("HTTP_X_AMZ_INVOCATION_TYPE") == "Event":
        # AWS accepts an async invoke before the handler runs; the failure is not visible to the caller.
        return FaultResponse(_status(202), headers, b"")
    body = {"errorMessage": message, "errorType": "InjectedFault", "requestId": request_id, "stackTrace": []}
    headers += [("X-Amz-Function-Error", "Unhandled"), ("Content-Type", "application/json")]
    return FaultResponse(_status(200), headers, json.dumps(body).encode())


def _rest_xml(status: int, code: str, message: str, request_id: str) -> FaultResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>lambdapipe</HostId></Error>"
    )
    headers = [
        ("Content-Type", "application/xml"),
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", "lambdapipe"),
    ]
    return FaultResponse(_status(status), headers, body.encode())


def _query(status: int, code: str, message: str, request_id: str) -> FaultResponse:
    body = (
        f"<ErrorResponse><Error><Type>{_fault_side(status)}</Type><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return FaultResponse(
        _status(status), [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    )


def _json(
    status: int, code: str, message: str, request_id: str, service: str, environ: Mapping[str, Any]
) -> FaultResponse:
    namespace = _JSON_NAMESPACES.get(service, f"com.amazonaws.{service}")
    body = json.dumps({"__type": f"{namespace}#{code}", "message": message}).encode()
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("application/x-amz-json-"):
        content_type = "application/x-amz-json-1.0"
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
    if service in QUERY_COMPATIBLE_SERVICES:
        headers.append(("x-amzn-query-error", f"{code};{_fault_side(status)}"))
    if service == "dynamodb":
        headers.append(("x-amz-crc32", str(zlib.crc32(body))))
    return FaultResponse(_status(status), headers, body)


def _rpc_v2_cbor(status: int, code: str, message: str, request_id: str, service: str) -> FaultResponse:
    body = _cbor_text_map({"__type": f"com.amazonaws.{service}#{code}", "message": message})
    headers = [
        ("Content-Type", "application/cbor"),
        ("smithy-protocol", "rpc-v2-cbor"),
        ("x-amzn-RequestId", request_id),
    ]
    if service in QUERY_COMPATIBLE_SERVICES:
        headers.append(("x-amzn-query-error", f"{code};{_fault_side(status)}"))
    return FaultResponse(_status(status), headers, body)


def _cbor_text_map(items: Mapping[str, str]) -> bytes:
    """A CBOR (RFC 8949) map of text strings: all an rpc-v2-cbor error body needs."""
    encoded = bytearray(_cbor_head(5, len(items)))
    for text in (part for item in items.items() for part in item):
        data = text.encode()
        encoded += _cbor_head(3, len(data)) + data
    return bytes(encoded)


def _cbor_head(major_type: int, length: int) -> bytes:
    if length < 24:
        return bytes([major_type << 5 | length])
    if length < 0x100:
        return bytes([major_type << 5 | 24, length])
    return bytes([major_type << 5 | 25]) + length.to_bytes(2, "big")


def _rest_json(status: int, code: str, message: str, request_id: str, request: AwsRequest) -> FaultResponse:
    body: dict[str, str] = {"Type": "Service" if status >= 500 else "User", "message": message}
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", code),
    ]
    if code == "TooManyRequestsException" and request.service == "lambda":
        invoke = request.operation == "Invoke"
        body["Reason"] = "ConcurrentInvocationLimitExceeded" if invoke else "CallerRateLimitExceeded"
        body["retryAfterSeconds"] = "1"
        headers.append(("Retry-After", "1"))
    return FaultResponse(_status(status), headers, json.dumps(body).encode())
