"""The dev stack's API client (make run's demo data, make demo, the benchmarks) rides out an API
server too busy to answer in time, as it rides out one answering 5xx: under load a read or the token
request that timed out once used to stop `make run`'s demo preparation, and with it the stack.

A real HTTP server on 127.0.0.1 stands in for Airflow's, stalling the first answer to each path.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)
from airflow_api import AirflowApi, ApiError  # noqa: E402

TIMEOUT_S = 0.5
STALL_S = 2.0


class _StallsFirstAnswers(BaseHTTPRequestHandler):
    """Answers each (method, path) after STALL_S the first time, at once afterwards."""

    seen: Counter[tuple[str, str]]
    answers: dict[str, tuple[int, dict]] = {
        "/auth/token": (201, {"access_token": "token"}),
        "/api/v2/dags?limit=1000": (200, {"dags": [{"dag_id": "order_analytics"}]}),
        "/api/v2/importErrors?limit=1000": (200, {"import_errors": []}),
        "/api/v2/dags/order_analytics/dagRuns": (200, {"dag_run_id": "manual__1"}),
    }

    def _answer(self) -> None:
        self.seen[(self.command, self.path)] += 1
        if self.seen[(self.command, self.path)] == 1:
            time.sleep(STALL_S)
        status, document = self.answers[self.path]
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_api_server(tmp_path: Path) -> Iterator[tuple[devstack.Settings, Counter[tuple[str, str]]]]:
    _StallsFirstAnswers.seen = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StallsFirstAnswers)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield devstack.Settings(home=tmp_path, api_port=server.server_port), _StallsFirstAnswers.seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_token_request_and_reads_are_asked_again_after_a_timeout(
    busy_api_server: tuple[devstack.Settings, Counter[tuple[str, str]]],
) -> None:
    settings, seen = busy_api_server

    api = AirflowApi(settings, timeout_s=TIMEOUT_S)
    api.wait_for_dags({"order_analytics"}, timeout=30)

    assert seen[("POST", "/auth/token")] == 2
    assert seen[("GET", "/api/v2/dags?limit=1000")] == 2


def test_a_run_is_never_triggered_twice_a_timed_out_trigger_is_an_error_saying_so(
    busy_api_server: tuple[devstack.Settings, Counter[tuple[str, str]]],
) -> None:
    """A POST that starts a run may have started it: asking again could start a second run."""
    settings, seen = busy_api_server
    api = AirflowApi(settings, timeout_s=STALL_S * 2)  # the token comes in time
    api.timeout_s = TIMEOUT_S

    with pytest.raises(ApiError, match=r"POST /api/v2/dags/order_analytics/dagRuns: no answer in 0.5 s"):
        api.trigger("order_analytics")

    assert seen[("POST", "/api/v2/dags/order_analytics/dagRuns")] == 1
