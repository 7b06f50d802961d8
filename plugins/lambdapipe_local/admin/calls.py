"""Count the AWS calls the local server receives, so tests can assert on retries and deploys.

Keys are `service:operation` (`lambda:UpdateFunctionCode`) and, for Lambda calls naming a
function, also `service:operation:function` (`lambda:Invoke:hello_world`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdapipe_local.front.aws_request import AwsRequest


@dataclass(frozen=True)
class CallCounts:
    """A snapshot of the counters. `counts["lambda:Invoke"]` is 0 for calls never made."""

    calls: dict[str, int] = field(default_factory=dict)
    faults_injected: dict[str, int] = field(default_factory=dict)  # answered with an injected error
    delays_injected: dict[str, int] = field(default_factory=dict)  # held back by an injected latency

    def __getitem__(self, key: str) -> int:
        return self.calls.get(key, 0)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            "calls": self.calls,
            "faults_injected": self.faults_injected,
            "delays_injected": self.delays_injected,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallCounts:
        return cls(dict(data["calls"]), dict(data["faults_injected"]), dict(data["delays_injected"]))


def call_keys(request: AwsRequest) -> tuple[str, ...]:
    if request.function_name:
        return (request.key, f"{request.key}:{request.function_name}")
    return (request.key,)


class CallCounter:
    """Thread-safe counters of calls, injected faults and injected delays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._delays: Counter[str] = Counter()

    def record(self, request: AwsRequest, *, faulted: bool = False, delayed: bool = False) -> None:
        keys = call_keys(request)
        with self._lock:
            self._calls.update(keys)
            if faulted:
                self._faults.update(keys)
            if delayed:
                self._delays.update(keys)

    def snapshot(self) -> CallCounts:
        with self._lock:
            return CallCounts(dict(self._calls), dict(self._faults), dict(self._delays))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._delays.clear()
