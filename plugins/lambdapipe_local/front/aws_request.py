"""Identify which AWS service, operation and resource an incoming HTTP request is for.

Fault rules and call counts key on this, so it must recognise every client that signs like the
AWS SDKs (boto3, the AWS CLI, the JS SDK): service and region come from the SigV4 credential
scope, the operation from `X-Amz-Target` (JSON protocols), `Action` (query protocol) or
method + path (REST protocols, via botocore's models).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus

from lambdapipe_local.front.service_models import service_model, services_for_signing_name

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
# Bodies larger than this are not parsed for a resource name (BatchWriteItem, PutRecords...).
MAX_PARSED_BODY = 64 * 1024
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_RPC_V2_PATH = re.compile(r"/service/([^/]+)/operation/([^/]+)")
_VIRTUAL_HOST_BUCKET = re.compile(r"^(?P<bucket>.+?)\.(?:localhost|s3[.-][^:]*amazonaws\.com)(?::\d+)?$")
# Lambda operations that name their function in the JSON body, not the path. CreateFunction's body
# holds the base64 zip: parsing it costs ~1 ms per MB, paid only on deploys.
_FUNCTION_NAME_IN_BODY = frozenset({"CreateFunction", "CreateEventSourceMapping", "UpdateEventSourceMapping"})
# Top-level request members that name the resource in JSON and query bodies.
_RESOURCE_KEYS = ("TableName", "QueueUrl", "TopicArn", "TargetArn", "StreamName", "StreamARN")


@dataclass(frozen=True)
class AwsRequest:
    """What an HTTP request asks AWS to do. Unknown parts are "unknown" (service, operation) or None."""

    service: str
    operation: str
    region: str | None = None
    function_name: str | None = None
    resource: str | None = None
    protocol: str = UNKNOWN

    @property
    def key(self) -> str:
        """`service:operation`, the call-count key."""
        return f"{self.service}:{self.operation}"


def identify_request(environ: dict[str, Any]) -> AwsRequest:
    """Identify a WSGI request. Never raises: anything unrecognised is reported as unknown.

    May read a form or JSON body; it then replaces `wsgi.input` so the wrapped app still sees it.
    """
    try:
        return _identify(environ)
    except Exception:
        log.warning(
            "could not identify request %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        )
        log.debug("identification failure", exc_info=True)
        return AwsRequest(UNKNOWN, UNKNOWN)


def _identify(environ: dict[str, Any]) -> AwsRequest:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    signing_name, region = _credential_scope(environ, query)
    candidates = services_for_signing_name(signing_name) if signing_name else ()
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return _identify_json(environ, target, candidates, signing_name, region)
    action = query.get("Action", [None])[0]
    form = None
    if action is None and _is_query_form(environ, candidates):
        form = parse_qs(read_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
        action = form.get("Action", [None])[0]
    service = candidates[0] if candidates else (signing_name or UNKNOWN)
    if action is not None:
        return AwsRequest(service, action, region, None, _resource_from(form or query), "query")
    rpc = _RPC_V2_PATH.fullmatch(environ.get("PATH_INFO", ""))
    if rpc:
        return AwsRequest(service, rpc.group(2), region, protocol="smithy-rpc-v2-cbor")
    return _identify_rest(environ, query, candidates, service, region)


def _is_query_form(environ: Mapping[str, Any], candidates: tuple[str, ...]) -> bool:
    """A query-protocol POST. S3 objects may carry any Content-Type: their bodies are never parsed."""
    return (
        environ.get("REQUEST_METHOD") == "POST"
        and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
        and "s3" not in candidates
    )


def _credential_scope(
    environ: Mapping[str, Any], query: Mapping[str, list[str]]
) -> tuple[str | None, str | None]:
    """(signing name, region) from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/svc/...`
    or a presigned URL's `X-Amz-Credential`; S3 for SigV2 signatures."""
    credential = query.get("X-Amz-Credential", [None])[0]
    if credential is None:
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        credential = found.group(1) if found else None
    parts = credential.split("/") if credential else []
    if len(parts) == 5:
        return parts[3].lower(), parts[2]
    if "Signature" in query or environ.get("HTTP_AUTHORIZATION", "").startswith("AWS "):
        return "s3", None  # SigV2 (botocore's default for presigned S3 URLs) survives only in S3
    return None, None


def _identify_json(
    environ: dict[str, Any],
    target: str,
    candidates: tuple[str, ...],
    signing_name: str | None,
    region: str | None,
) -> AwsRequest:
    prefix, _, operation = target.rpartition(".")
    service = next(
        (name for name in candidates if (model := service_model(name)) and model.target_prefix == prefix),
        candidates[0] if candidates else (signing_name or UNKNOWN),
    )
    small = int(environ.get("CONTENT_LENGTH") or 0) <= MAX_PARSED_BODY
    resource = _resource_from(_json_body(environ)) if small else None
    return AwsRequest(service, operation or UNKNOWN, region, None, resource, "json")


def _identify_rest(
    environ: dict[str, Any],
    query: Mapping[str, list[str]],
    candidates: tuple[str, ...],
    service: str,
    region: str | None,
) -> AwsRequest:
    path = environ.get("PATH_INFO", "") or "/"
    bucket_host = _VIRTUAL_HOST_BUCKET.match(environ.get("HTTP_HOST", "")) if "s3" in candidates else None
    if bucket_host:
        path = f"/{bucket_host.group('bucket')}{path}"
    method = environ.get("REQUEST_METHOD", "GET")
    best = None
    for name in candidates:
        model = service_model(name)
        if model is None or not model.routes_by_method:
            continue
        found = model.match_rest(method, path, query, environ)
        if found and (best is None or found[0] > best[0]):
            best = (found[0], found[1], model)
    if best is None:
        return AwsRequest(service, UNKNOWN, region)
    _, match, model = best
    operation = match.operation
    explicit = query.get("x-id", [None])[0]  # the JS SDK v3 names S3 operations in the URL
    if explicit in model.operations:
        operation = explicit
    labels = {key: unquote(value) for key, value in match.labels.items()}
    function_name = labels.get("FunctionName")
    if model.name == "lambda" and operation in _FUNCTION_NAME_IN_BODY:
        value = _json_body(environ).get("FunctionName")
        function_name = value if isinstance(value, str) else None
    function_name = bare_function_name(function_name) if function_name else None
    resource = function_name or labels.get("Bucket")
    return AwsRequest(model.name, operation, region, function_name, resource, model.protocol)


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON object body; empty if it is missing or not an object."""
    try:
        body = json.loads(read_body(environ) or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def bare_function_name(name: str) -> str:
    """`my-fn` from `my-fn`, `my-fn:alias`, `123456789012:function:my-fn` or a full function ARN."""
    parts = name.split(":")
    if "function" in parts[:-1]:
        return parts[parts.index("function") + 1]
    return parts[0]


def _resource_from(params: Mapping[str, Any]) -> str | None:
    """A short resource name: table, queue (last URL segment), topic or stream (last ARN part)."""
    for key in _RESOURCE_KEYS:
        value = params.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return re.split(r"[/:]", unquote_plus(value).rstrip("/"))[-1]
    return None


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body (a chunked one too, which arrives without a length) and put an
    equivalent stream back for the wrapped app."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body
