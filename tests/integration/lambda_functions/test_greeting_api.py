"""greeting_api (Node.js): API Gateway proxy responses for ?name=, including a null query string."""

from __future__ import annotations

import json

from lambdapipe.packaging import load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke

EVENTS = load_test_events(FUNCTIONS_DIR / "greeting_api")


def greet(invoke: Invoke, *events: object) -> list[tuple[int, dict[str, str]]]:
    responses = invoke("greeting_api", list(events)).results
    for response in responses:
        assert response["headers"] == {"Content-Type": "application/json"}
        assert response["isBase64Encoded"] is False
        assert isinstance(response["body"], str)
    return [(response["statusCode"], json.loads(response["body"])) for response in responses]


def test_name_from_the_query_string_is_greeted(invoke: Invoke) -> None:
    assert greet(invoke, EVENTS["with-name"], EVENTS["unicode-name"]) == [
        (200, {"message": "Hello, Ada!"}),
        (200, {"message": "Hello, Zoë!"}),
    ]


def test_missing_null_or_blank_name_greets_guest(invoke: Invoke) -> None:
    assert (
        greet(invoke, EVENTS["no-query-string"], EVENTS["blank-name"], EVENTS["empty"], None)
        == [(200, {"message": "Hello, Guest!"})] * 4
    )


def test_overlong_name_is_a_client_error(invoke: Invoke) -> None:
    assert greet(invoke, EVENTS["name-too-long"]) == [
        (400, {"message": "name must be at most 64 characters"})
    ]
