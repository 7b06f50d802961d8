"""The local AWS server's HTTP layer: werkzeug's threaded WSGI server with HTTP/1.1 keep-alive.

Werkzeug's development handler answers every request with ``Connection: close``, so each SDK call
costs a TCP connect, a new server thread and a socket in TIME_WAIT: at hundreds of Lambda invokes a
second that was a third of the client's CPU and most of the fan-out's latency overhead. A connection
can only be reused once the request body is fully consumed, which werkzeug cannot guarantee for an
application that stops reading early; this handler reads the whole body before calling the
application, and sends every response with a length, so the next request starts at a clean
boundary. Real AWS endpoints keep connections alive too; clients behave the same either way.
"""

from __future__ import annotations

import io
from typing import Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import WSGIRequestHandler

# An idle keep-alive connection holds a server thread: let clients that went away free it.
IDLE_CONNECTION_TIMEOUT_S = 300.0
# Hop-by-hop headers the server decides, never the application.
_SERVER_HEADERS = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class KeepAliveRequestHandler(WSGIRequestHandler):
    """One connection, many requests: bodies read in full, responses always carry their length."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # Headers and body are separate writes: without this, Nagle + delayed ACK add 40 ms per answer.
    disable_nagle_algorithm = True

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Per-request access logs drown real problems; errors are still logged."""

    def run_wsgi(self) -> None:
        # No "100 Continue" here, unlike werkzeug: speaking HTTP/1.1, http.server already sent it.
        self.environ = environ = self.make_environ()
        body = self._read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            status, headers, chunks = self._call_application(environ)
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
            return
        self._send(environ["REQUEST_METHOD"], status, headers, b"".join(chunks))

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The whole request body: up to Content-Length, or to the last chunk of a chunked body."""
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):
            return stream.read()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return stream.read(length) if length > 0 else b""

    def _call_application(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Run the WSGI application to completion; an exception becomes a 500 with a logged traceback."""
        response: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            response["status"], response["headers"] = status, headers
            return response.setdefault("written", []).append

        try:
            return self._collect(self.server.app, environ, start_response, response)
        except (ConnectionError, TimeoutError):
            raise
        except Exception as error:
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(error).render_traceback_text()}")
            response.clear()
            return self._collect(InternalServerError(), environ, start_response, response)

    @staticmethod
    def _collect(
        app: Any, environ: dict[str, Any], start_response: Any, response: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        application_iter = app(environ, start_response)
        try:
            chunks = [*response.get("written", []), *application_iter]
        finally:
            if hasattr(application_iter, "close"):
                application_iter.close()
        return response["status"], response["headers"], chunks

    def _send(self, method: str, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        length = None
        for key, value in headers:
            if key.lower() == "content-length":
                length = value  # kept as the application set it: HEAD answers the object's length
            elif key.lower() not in _SERVER_HEADERS:
                self.send_header(key, value)
        no_body = method == "HEAD" or int(code) in (204, 304) or 100 <= int(code) < 200
        if length is not None or not no_body:
            self.send_header("Content-Length", length if length is not None else str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not no_body:
            self.wfile.write(body)
        self.wfile.flush()
