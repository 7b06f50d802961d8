"""The events API Gateway and function URLs send to Lambda, and how they turn its answer into HTTP.

Payload 1.0 (REST APIs, HTTP APIs that ask for it) and 2.0 (HTTP APIs, function URLs), after
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
and the REST API's Lambda proxy integration docs.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from lambdapipe_local.http_ingress.targets import Target

# Content types payload 2.0 passes as text; any other body arrives base64-encoded.
_TEXT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/xml",
    "application/*+xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True)
class HttpRequest:
    """The parts of the incoming request an event carries."""

    method: str
    path: str  # as the client sent it (stage included)
    query_string: str
    headers: list[tuple[str, str]]  # in order, names as sent
    body: bytes
    source_ip: str
    host: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def event(target: Target, request: HttpRequest) -> dict[str, Any]:
    """The event for ``target``'s payload version."""
    if target.payload_version == "1.0":
        return _event_v1(target, request)
    return _event_v2(target, request)


def response(target: Target, payload: bytes, function_error: bool) -> HttpResponse:
    """The HTTP answer for a function's result: a failed or malformed one is the service's 5xx."""
    if function_error:
        return _failure(target)
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        return _failure(target)
    if target.payload_version == "1.0" or (isinstance(result, dict) and "statusCode" in result):
        mapped = _structured(result)
        return mapped if mapped is not None else _failure(target)
    # Payload 2.0 without a statusCode: API Gateway infers 200, the body a returned string, or the JSON.
    body = result.encode("utf-8") if isinstance(result, str) else payload
    return HttpResponse(200, [("Content-Type", "application/json")], body)


def error(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()
    )


def _event_v1(target: Target, request: HttpRequest) -> dict[str, Any]:
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    content_type = _media_type(request.headers)
    binary = bool(content_type) and any(
        fnmatch.fnmatch(content_type, pattern.lower()) for pattern in target.binary_media_types
    )
    body, encoded = _body(request.body, binary)
    now = time.time()
    return {
        "resource": target.route_key,
        "path": target.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": target.path_parameters or None,
        "stageVariables": target.stage_variables or None,
        "requestContext": {
            "accountId": target.account_id,
            "apiId": target.api_id,
            "resourcePath": target.route_key,
            "httpMethod": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "stage": target.stage,
            "domainName": request.host,
            "domainPrefix": request.host.split(".", 1)[0],
            "requestId": str(uuid.uuid4()),
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": request.source_ip, "userAgent": _header(request.headers, "user-agent")},
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def _event_v2(target: Target, request: HttpRequest) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
            continue
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = _media_type(request.headers)
    textual = not content_type or any(fnmatch.fnmatch(content_type, pattern) for pattern in _TEXT_TYPES)
    body, encoded = _body(request.body, binary=not textual)
    now = time.time()
    document: dict[str, Any] = {
        "version": "2.0",
        "routeKey": target.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous" if target.kind == "function-url" else target.account_id,
            "apiId": target.api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": _header(request.headers, "user-agent"),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": target.route_key,
            "stage": target.stage,
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        document["cookies"] = cookies
    if query:
        document["queryStringParameters"] = query
    if target.path_parameters:
        document["pathParameters"] = target.path_parameters
    if target.stage_variables:
        document["stageVariables"] = target.stage_variables
    if body is not None:
        document["body"] = body
    return document


def _structured(result: Any) -> HttpResponse | None:
    """``{statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded}``; None if malformed."""
    if not isinstance(result, dict):
        return None
    status = result.get("statusCode")
    body = result.get("body")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    if body is not None and not isinstance(body, str):
        return None
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(value)) for value in (values or [])]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        data = (body or "").encode("utf-8")
    return HttpResponse(status, headers, data)


def _failure(target: Target) -> HttpResponse:
    if target.kind == "rest-api":
        return error(502, "Internal server error")
    if target.kind == "function-url":
        return error(502, "Internal Server Error")
    return error(500, "Internal Server Error")


def _body(data: bytes, binary: bool) -> tuple[str | None, bool]:
    if not data:
        return None, False
    if binary:
        return base64.b64encode(data).decode("ascii"), True
    return data.decode("utf-8", "replace"), False


def _media_type(headers: list[tuple[str, str]]) -> str:
    """``image/png`` from ``Content-Type: Image/PNG; charset=binary``."""
    return _header(headers, "content-type").split(";")[0].strip().lower()


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in headers if key.lower() == name), "")
