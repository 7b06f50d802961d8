"""The Lambda Runtime API for one execution environment.

AWS's runtime clients (``awslambdaric`` for Python, our Node.js bootstrap) long-poll
``/invocation/next`` and post results back. Serving the same API locally lets the real
runtime clients run unchanged, so context objects, error JSON and logging behave as on AWS.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lambdapipe_local.front.browser_guard import browser_refusal
from lambdapipe_local.lambda_runtime import ids

API_PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One request handed to the runtime, and its outcome once the runtime answers."""

    request_id: str
    event: bytes
    function_arn: str
    deadline_ms: int
    client_context: str | None = None
    payload: bytes | None = None
    error: dict | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def succeed(self, payload: bytes) -> None:
        if not self.finished.is_set():
            self.payload = payload
            self.finished.set()

    def fail(self, error: dict) -> None:
        if not self.finished.is_set():
            self.error = error
            self.finished.set()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A killed runtime (timeout, reaping) drops its connection: expected, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApiServer:
    """A loopback HTTP server speaking the Runtime API to exactly one runtime process."""

    def __init__(self) -> None:
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self.current: Invocation | None = None
        self.init_error: dict | None = None
        self.first_poll_at: float | None = None
        self.polled = threading.Event()
        # Set while the runtime is blocked in /next, i.e. ready for the next invocation.
        self.waiting = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._serve, daemon=True, name="runtime-api")
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, invocation: Invocation) -> None:
        self._by_id[invocation.request_id] = invocation
        self.current = invocation
        self._pending.put(invocation)

    def close(self) -> None:
        self._pending.put(None)
        # Shutting the listening socket down makes the blocked accept() fail: the loop ends at once.
        with contextlib.suppress(OSError):
            self._server.socket.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=1)

    def _serve(self) -> None:
        """Accept connections until ``close``; blocking, not polling (``serve_forever`` wakes every
        ``poll_interval``: with dozens of warm environments that was a thousand wake-ups a second)."""
        while True:
            try:
                connection, address = self._server.socket.accept()
            except OSError:
                return
            self._server.process_request(connection, address)

    def _next(self) -> Invocation | None:
        if self.first_poll_at is None:
            self.first_poll_at = time.monotonic()
        self.polled.set()
        self.waiting.set()
        invocation = self._pending.get()
        self.waiting.clear()
        return invocation

    def _report_init_error(self, error: dict) -> None:
        self.init_error = error
        if self.current is not None:
            self.current.fail(error)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                """Silence per-request logging: the runtime polls constantly."""

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: HTTPStatus, body: bytes = b"{}", headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                # The runtime process may have been killed while we answered.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def _refused(self) -> bool:
                """A web page must not feed or answer invocations (see browser_guard)."""
                headers = {name.lower(): value for name, value in self.headers.items()}
                refusal = browser_refusal(self.command, self.path, headers)
                if refusal is not None:
                    self._reply(HTTPStatus.FORBIDDEN, json.dumps({"error": refusal}).encode())
                return refusal is not None

            def do_GET(self) -> None:
                if self._refused():
                    return
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND)
                    return
                invocation = api._next()
                if invocation is None:
                    self._reply(HTTPStatus.GONE)
                    return
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": ids.trace_id(),
                }
                if invocation.client_context:
                    headers["Lambda-Runtime-Client-Context"] = invocation.client_context
                self._reply(HTTPStatus.OK, invocation.event, headers)

            def do_POST(self) -> None:
                body = self._body()
                if self._refused():
                    return
                parts = self.path.removeprefix(API_PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api._report_init_error(_error_document(body, self.headers))
                    self._reply(HTTPStatus.ACCEPTED)
                    return
                if len(parts) == 3 and parts[0] == "invocation":
                    invocation = api._by_id.pop(parts[1], None)
                    if invocation is None:
                        self._reply(HTTPStatus.BAD_REQUEST, b'{"errorType":"InvalidRequestID"}')
                        return
                    if parts[2] == "response":
                        invocation.succeed(body)
                    else:
                        invocation.fail(_error_document(body, self.headers))
                    self._reply(HTTPStatus.ACCEPTED)
                    return
                self._reply(HTTPStatus.NOT_FOUND)

        return Handler


def _error_document(body: bytes, headers) -> dict:
    """Parse an error posted by a runtime; a malformed one is still an error, never a success."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    document.setdefault("errorType", headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown")
    document.setdefault("errorMessage", "")
    return document
