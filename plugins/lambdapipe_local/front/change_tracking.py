"""Tell the state keeper about requests that may change AWS state, and know when none is in flight.

Reads are skipped (by operation name: SQS and DynamoDB reads are POSTs too), so an idle stack that
its own pollers and Airflow's watchers keep asking for records does not save again and again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from lambdapipe_local.front.aws_request import UNKNOWN, identify_request
from lambdapipe_local.front.middleware import AWS_REQUEST_ENVIRON_KEY, INTERNAL_ENVIRON_KEY

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_OPERATION_PREFIXES = ("Get", "List", "Describe", "Head", "Query", "Scan", "Receive", "BatchGet")


def changes_state(method: str, operation: str) -> bool:
    """May this request change state? Unknown operations are assumed to."""
    if method in READ_ONLY_METHODS:
        return False
    return operation == UNKNOWN or not operation.startswith(READ_OPERATION_PREFIXES)


class ChangeTracking:
    """WSGI middleware: calls ``on_change`` after each request that may have changed state."""

    def __init__(self, app: Callable, on_change: Callable[[], None]) -> None:
        self.app = app
        self.on_change = on_change
        self._in_flight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = identify_request(environ)
        if not environ.get(INTERNAL_ENVIRON_KEY):  # the stack's own calls bypass the fast paths
            environ[AWS_REQUEST_ENVIRON_KEY] = request  # identified once: the middleware reuses it
        with self._idle:
            self._in_flight += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
            if changes_state(environ.get("REQUEST_METHOD", "GET"), request.operation):
                self.on_change()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is being answered (after the server stopped accepting new ones)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)
