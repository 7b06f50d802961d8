"""hello_node (Node.js): the fixed greeting for any event."""

from __future__ import annotations

from lambdapipe.packaging import load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke


def test_every_saved_event_gets_the_greeting(invoke: Invoke) -> None:
    events = list(load_test_events(FUNCTIONS_DIR / "hello_node").values())

    run = invoke("hello_node", [*events, "a string event"])

    assert run.results == [{"statusCode": 200, "body": "Hello, AWS Lambda!"}] * (len(events) + 1)
