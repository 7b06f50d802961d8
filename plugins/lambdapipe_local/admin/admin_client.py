"""Drive a running local AWS server's admin API (faults, call counts) from any process.

admin = LocalAwsAdmin("http://127.0.0.1:4566")
admin.add_fault("s3", "s3_slow_down", operation="PutObject", count=2)
...
assert admin.calls()["s3:PutObject"] == 3
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from lambdapipe_local.admin.calls import CallCounts
from lambdapipe_local.admin.faults import ActiveFault, FaultRule
from lambdapipe_local.front.browser_guard import ADMIN_HEADER
from lambdapipe_local.front.middleware import ADMIN_PREFIX


class LocalAwsAdminError(RuntimeError):
    """The admin API refused a request; the message is the server's explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"local AWS admin API answered {status}: {message}")
        self.status = status


class LocalAwsAdmin:
    """Client for the `/_lambdapipe/` admin endpoints (standard library only)."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        self.base_url = endpoint_url.rstrip("/") + ADMIN_PREFIX
        self.timeout = timeout

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def add_fault(self, service: str, error: str | None = None, **options: Any) -> str:
        """Install a fault rule (see FaultRule for the options); returns its id.

        The rule is validated here first, so mistakes raise FaultRuleError in the caller.
        """
        rule = FaultRule(service=service, error=error, **options)
        return self._call("POST", "/faults", rule.to_dict())["id"]

    def faults(self) -> list[ActiveFault]:
        return [
            ActiveFault(item["id"], FaultRule.from_dict(item["rule"]), item["hits"])
            for item in self._call("GET", "/faults")["faults"]
        ]

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> int:
        """Remove every fault rule; returns how many were installed."""
        return self._call("DELETE", "/faults")["removed"]

    def calls(self) -> CallCounts:
        return CallCounts.from_dict(self._call("GET", "/calls"))

    def reset_calls(self) -> None:
        self._call("DELETE", "/calls")

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base_url + route, data=data, method=method)
        request.add_header(ADMIN_HEADER, "1")  # the server refuses state changes without it
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                message = json.load(error).get("error", error.reason)
            except ValueError:
                message = error.reason
            raise LocalAwsAdminError(error.code, message) from None
