"""Optionally check each AWS request's SigV4 signature, as AWS does, against the stack's credentials.

moto checks no signature: any request that reaches the port is served. With ``--check-signatures``
the stack answers 403 to a request that is unsigned, signed with an access key it was not given, or
whose signature does not match, so only clients holding its secret key get in (a page in a browser
does not, whatever the browser guard lets through), and code that signs wrongly fails here as it
would on AWS. The signature is recomputed with botocore's own signer over the request as received
(its raw path and query, the headers it says it signed, the body or its declared hash): the
Authorization header or a presigned URL's query. Admin routes (``/_lambdapipe/*``, ``/moto-api/*``)
are not AWS requests; the browser guard's header check covers them.

Accepted keys: the ones given (``testing``/``testing`` by default) plus the stack's own (its
functions' session credentials and its internal clients).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambdapipe_local.front.aws_request import read_body
from lambdapipe_local.front.browser_guard import ADMIN_PATH_PREFIXES

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


XML_SERVICES = frozenset({"s3", "sns", "iam", "sts", "cloudformation", "ses"})  # the rest answer in JSON


class SignatureRefused(Exception):
    """Why a request's signature is not accepted, with the error code AWS gives for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SignatureCheck:
    """WSGI middleware: 403 for an AWS request not signed with one of ``credentials``."""

    def __init__(self, app: WsgiApp, credentials: Mapping[str, str]) -> None:
        self.app = app
        self.credentials = dict(credentials)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(ADMIN_PATH_PREFIXES):
            return self.app(environ, start_response)
        body = read_body(environ)
        try:
            check_signature(environ, body, self.credentials)
        except SignatureRefused as refused:
            return _refuse(environ, start_response, refused)
        return self.app(environ, start_response)


def check_signature(environ: Mapping[str, Any], body: bytes, credentials: Mapping[str, str]) -> None:
    """Raise ``SignatureRefused`` unless the request is signed with one of ``credentials``."""
    raw_path, _, raw_query = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/").partition("?")
    query = _query_pairs(raw_query)
    if environ.get("HTTP_AUTHORIZATION"):
        match = _AUTHORIZATION.match(environ["HTTP_AUTHORIZATION"].strip())
        if match is None:
            raise SignatureRefused("IncompleteSignature", "the Authorization header is not an AWS SigV4 one")
        credential, signed, signature = match["credential"], match["signed"], match["signature"]
        timestamp = _header(environ, "x-amz-date")
        presigned = False
    elif "X-Amz-Signature" in dict(query):
        params = dict(query)
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise SignatureRefused(
                "AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}"
            )
        credential, signed = (
            _unquote(params.get("X-Amz-Credential", "")),
            _unquote(params.get("X-Amz-SignedHeaders", "")),
        )
        signature, timestamp, presigned = params["X-Amz-Signature"], params.get("X-Amz-Date"), True
        raw_query = "&".join(f"{key}={value}" for key, value in query if key != "X-Amz-Signature")
    elif "Signature" in dict(query) and "AWSAccessKeyId" in dict(query):
        return _check_v2_presigned(environ, raw_path, query, credentials)
    else:
        raise SignatureRefused("MissingAuthenticationToken", "the request is not signed")
    access_key, _, scope = credential.partition("/")
    date, region, service, terminator = [*scope.split("/"), "", "", "", ""][:4]
    if access_key not in credentials:
        raise SignatureRefused(
            "InvalidClientTokenId", f"the access key {access_key!r} is not one this stack accepts"
        )
    if terminator != "aws4_request" or not timestamp or not timestamp.startswith(date):
        raise SignatureRefused(
            "IncompleteSignature", f"the credential scope {scope!r} does not match the request date"
        )
    expected = _expected_signature(
        environ,
        raw_path,
        raw_query,
        signed.split(";"),
        body,
        timestamp,
        (access_key, credentials[access_key], region, service),
        presigned,
    )
    if expected != signature:
        raise SignatureRefused(
            "SignatureDoesNotMatch",
            "the request signature we calculated does not match the signature you provided: check the "
            "secret access key",
        )


def _check_v2_presigned(
    environ: Mapping[str, Any], raw_path: str, query: list[tuple[str, str]], credentials: Mapping[str, str]
) -> None:
    """An S3 URL presigned with signature version 2, which boto3 still makes for custom endpoints."""
    import time
    from urllib.parse import urlsplit

    from botocore.auth import HmacV1Auth
    from botocore.credentials import Credentials

    params = dict(query)
    access_key, expires = _unquote(params["AWSAccessKeyId"]), params.get("Expires", "")
    if access_key not in credentials:
        raise SignatureRefused(
            "InvalidAccessKeyId", f"the access key {access_key!r} is not one this stack accepts"
        )
    if not expires.isdigit() or int(expires) < time.time():
        raise SignatureRefused("AccessDenied", "the presigned URL has expired")
    headers = {}
    for name in ("content-md5", "content-type"):
        if (value := _header(environ, name)) is not None:
            headers[name] = value
    headers.update(
        {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_X_AMZ_")
        }
    )
    kept = "&".join(
        f"{key}={value}" for key, value in query if key not in ("AWSAccessKeyId", "Signature", "Expires")
    )

    class ExpiresAsDate(HmacV1Auth):  # a presigned URL signs its expiry where a request signs its Date
        def _get_date(self) -> str:
            return expires

    signer = ExpiresAsDate(Credentials(access_key, credentials[access_key]))
    split = urlsplit(f"http://host{raw_path}" + (f"?{kept}" if kept else ""))
    expected = signer.sign_string(
        signer.canonical_string(environ.get("REQUEST_METHOD", "GET"), split, headers)
    )
    if expected != _unquote(params["Signature"]):
        raise SignatureRefused("SignatureDoesNotMatch", "the presigned URL's signature does not match")


def _expected_signature(
    environ: Mapping[str, Any],
    raw_path: str,
    raw_query: str,
    signed_headers: list[str],
    body: bytes,
    timestamp: str,
    key: tuple[str, str, str, str],
    presigned: bool,
) -> str:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    access_key, secret_key, region, service = key
    headers = {name: value for name in signed_headers if (value := _header(environ, name)) is not None}
    host = headers.get("host") or environ.get("HTTP_HOST", "")
    url = f"http://{host}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=headers, data=body)
    request.context["timestamp"] = timestamp
    signer_class = {
        (True, True): S3SigV4QueryAuth,
        (True, False): S3SigV4Auth,
        (False, True): SigV4QueryAuth,
        (False, False): SigV4Auth,
    }[(service == "s3", presigned)]
    signer = signer_class(Credentials(access_key, secret_key), service, region)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    return signer.signature(string_to_sign, request)


def _header(environ: Mapping[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ.get(key)
    return environ.get(f"HTTP_{key}")


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    return [(pair.partition("=")[0], pair.partition("=")[2]) for pair in raw_query.split("&") if pair]


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _service(environ: Mapping[str, Any]) -> str | None:
    """The service the request names in its credential scope, if any."""
    scope = re.search(r"Credential=[^/,\s]+/\d{8}/[^/]*/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        query = _unquote(environ.get("QUERY_STRING", ""))
        scope = re.search(r"X-Amz-Credential=[^/&]+/\d{8}/[^/&]*/([^/&]+)/", query)
    return scope[1] if scope else None


def _refuse(
    environ: Mapping[str, Any], start_response: StartResponse, refused: SignatureRefused
) -> list[bytes]:
    """A 403 in the request's protocol, so SDKs report its code: AWS's XML error for S3, SNS, IAM, STS
    and CloudFormation, JSON for the other services (and for an unsigned request that sent JSON)."""
    service = _service(environ)
    sent_json = "json" in (environ.get("CONTENT_TYPE") or "")
    if service not in XML_SERVICES and (service is not None or sent_json):
        body = json.dumps({"__type": refused.code, "message": str(refused)}).encode()
        content_type = "application/json"
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{refused.code}</Code>"
            f"<Message>{_xml_escape(str(refused))}</Message></Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = [
        ("x-amzn-ErrorType", refused.code),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
    ]
    start_response("403 Forbidden", headers)
    return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
