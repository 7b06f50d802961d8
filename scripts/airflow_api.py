"""Just enough of Airflow's REST API (``/api/v2``) for the demo and the benchmarks, as the admin user."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import devstack

TERMINAL_RUN_STATES = {"success", "failed"}
IDEMPOTENT_ATTEMPTS = 5
REQUEST_TIMEOUT_S = 30.0
TOKEN_PATH = "/auth/token"  # a POST, but asking again only makes another token


class ApiError(RuntimeError):
    """The API server refused a call; the message holds the method, path, status and its answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AirflowApi:
    """A bearer-token client for one stack's API server (loopback only, never through a proxy)."""

    def __init__(self, settings: devstack.Settings, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.base_url = settings.api_url
        self.timeout_s = timeout_s
        body = json.dumps({"username": devstack.USERNAME, "password": devstack.PASSWORD}).encode()
        self.token = self._call("POST", TOKEN_PATH, body, {"Content-Type": "application/json"})[
            "access_token"
        ]

    def get(self, path: str) -> dict:
        return self._call("GET", f"/api/v2{path}", None, self._headers())

    def post(self, path: str, document: dict[str, Any]) -> dict:
        return self._call(
            "POST", f"/api/v2{path}", json.dumps(document).encode(), self._headers(json_body=True)
        )

    def patch(self, path: str, document: dict[str, Any]) -> dict:
        return self._call(
            "PATCH", f"/api/v2{path}", json.dumps(document).encode(), self._headers(json_body=True)
        )

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """Poll until the run ends; returns the run document (state, start_date, end_date)."""
        deadline = time.monotonic() + timeout
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        while True:
            run = self.get(path)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(1)

    def wait_for_dags(self, dag_ids: set[str], timeout: float) -> None:
        """Wait until the dag-processor has parsed these DAGs; fail on import errors."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.get("/importErrors?limit=1000")["import_errors"]
            if errors:
                raise RuntimeError("DAG import errors: " + "; ".join(e["filename"] for e in errors))
            known = {dag["dag_id"] for dag in self.get("/dags?limit=1000")["dags"]}
            if dag_ids <= known:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAGs not parsed after {timeout:.0f} s: {sorted(dag_ids - known)}")
            time.sleep(1)

    def _headers(self, json_body: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _call(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> dict:
        """One API call. One that is safe to repeat (GET, PATCH, the token) is asked again after a
        server error, which a busy SQLite metadata DB ("database is locked") can give, or no answer in
        ``timeout_s``, which a loaded machine can give. The final error says which, with the body."""
        attempts = IDEMPOTENT_ATTEMPTS if method in ("GET", "PATCH") or path == TOKEN_PATH else 1
        attempt = 1
        while True:
            request = urllib.request.Request(self.base_url + path, body, headers, method=method)
            try:
                with devstack.LOOPBACK_HTTP.open(request, timeout=self.timeout_s) as response:
                    return json.load(response)
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", "replace")[:2000]
                if error.code < 500 or attempt == attempts:
                    raise ApiError(f"{method} {path}: HTTP {error.code}: {detail}", error.code) from error
                failure = f"HTTP {error.code} ({detail[:200]})"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = getattr(error, "reason", error)
                failure = (
                    f"no answer in {self.timeout_s:g} s" if isinstance(reason, TimeoutError) else str(reason)
                )
                if attempt == attempts:
                    raise ApiError(f"{method} {path}: {failure}", 0) from error
            print(f"airflow api: {method} {path}: {failure}; asking again", flush=True)
            time.sleep(attempt)
            attempt += 1
