"""How the local stack turns a request into the event, and the function's answer into HTTP, per payload
version (AWS's rules: malformed proxy answers are the service's 5xx; 2.0 infers a plain JSON answer)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from lambdapipe_local.http_ingress import payloads
from lambdapipe_local.http_ingress.targets import Target

REST = Target(
    "rest-api",
    "arn:aws:lambda:us-east-1:1:function:f",
    "1.0",
    "1",
    "us-east-1",
    "a1",
    "live",
    "/items/{id}",
    "/items/7",
    {"id": "7"},
)
HTTP = Target(
    "http-api",
    "arn:aws:lambda:us-east-1:1:function:f",
    "2.0",
    "1",
    "us-east-1",
    "a2",
    "$default",
    "GET /items/{id}",
    "/items/7",
    {"id": "7"},
)


def request(body: bytes = b"", **headers: str) -> payloads.HttpRequest:
    return payloads.HttpRequest(
        "POST",
        "/items/7",
        "a=1&a=2&b=",
        [(name.replace("_", "-"), value) for name, value in headers.items()],
        body,
        "127.0.0.1",
        "127.0.0.1",
    )


@pytest.mark.parametrize(
    "answer",
    [
        b'{"body": "no status"}',
        b'"just a string"',
        b'{"statusCode": "abc"}',
        b'{"statusCode": 200, "body": {"not": "a string"}}',
        b"not json",
    ],
    ids=["no-status", "string", "bad-status", "object-body", "not-json"],
)
def test_a_malformed_proxy_answer_is_a_502_under_payload_1(answer: bytes) -> None:
    mapped = payloads.response(REST, answer, function_error=False)

    assert (mapped.status, json.loads(mapped.body)) == (502, {"message": "Internal server error"})


def test_payload_2_answers_without_a_status_code_as_200_json() -> None:
    mapped = payloads.response(HTTP, b'{"items": [1, 2]}', function_error=False)

    assert (mapped.status, mapped.headers, json.loads(mapped.body)) == (
        200,
        [("Content-Type", "application/json")],
        {"items": [1, 2]},
    )


@pytest.mark.parametrize(
    ("answer", "body"),
    [(b'"Hello from Lambda!"', b"Hello from Lambda!"), (b"null", b"null"), (b"[1, 2]", b"[1, 2]")],
    ids=["string", "null", "list"],
)
def test_payload_2_sends_a_returned_string_as_the_body_and_other_json_as_is(
    answer: bytes, body: bytes
) -> None:
    assert payloads.response(HTTP, answer, function_error=False).body == body


def test_headers_multi_value_headers_cookies_and_base64_bodies_are_mapped() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["session=abc; HttpOnly"],
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\x00\xff").decode(),
    }

    mapped = payloads.response(HTTP, json.dumps(answer).encode(), function_error=False)

    assert mapped.status == 201
    assert mapped.headers == [
        ("X-One", "1"),
        ("X-Many", "a"),
        ("X-Many", "b"),
        ("Set-Cookie", "session=abc; HttpOnly"),
    ]
    assert mapped.body == b"\x00\xff"


def test_payload_1_events_carry_multi_values_path_parameters_and_text_bodies() -> None:
    event = payloads.event(REST, request(b'{"x": 1}', Content_Type="application/json", X_Tag="a"))

    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["pathParameters"] == {"id": "7"}
    assert (event["resource"], event["path"], event["requestContext"]["stage"]) == (
        "/items/{id}",
        "/items/7",
        "live",
    )
    assert (event["body"], event["isBase64Encoded"]) == ('{"x": 1}', False)


def test_payload_1_encodes_only_the_apis_binary_media_types() -> None:
    png = request(b"\x89PNG", Content_Type="Image/PNG; charset=binary")

    assert payloads.event(dataclasses.replace(REST, binary_media_types=("image/*",)), png)["isBase64Encoded"]
    assert payloads.event(REST, png)["isBase64Encoded"] is False


def test_payload_2_events_join_repeated_values_and_split_cookies() -> None:
    event = payloads.event(
        HTTP, request(b"\x00\x01", Content_Type="application/octet-stream", Cookie="a=1; b=2")
    )

    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == (base64.b64encode(b"\x00\x01").decode(), True)
    assert (event["routeKey"], event["requestContext"]["http"]["method"]) == ("GET /items/{id}", "POST")
