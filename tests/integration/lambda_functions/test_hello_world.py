"""hello_world (Python): the fixed greeting for any event, logging through the packaged Powertools."""

from __future__ import annotations

import json

from lambdapipe.packaging import load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke

GREETING = {"statusCode": 200, "body": "Hello, AWS Lambda!"}


def test_every_saved_event_gets_the_greeting(invoke: Invoke) -> None:
    events = list(load_test_events(FUNCTIONS_DIR / "hello_world").values())

    run = invoke("hello_world", events)

    assert run.results == [GREETING] * len(events)


def test_logs_are_powertools_json_with_the_service_name(invoke: Invoke) -> None:
    run = invoke("hello_world", [{}])

    records = [json.loads(line) for line in run.logs.splitlines() if line.startswith("{")]
    assert [(record["level"], record["message"], record["service"]) for record in records] == [
        ("INFO", "Saying hello", "hello_world")
    ]
    assert records[0]["function_request_id"] == "00000000-0000-0000-0000-000000000000"
