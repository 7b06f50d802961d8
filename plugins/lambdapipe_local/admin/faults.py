"""Fault rules: make chosen AWS calls fail or slow down, to test retry and error handling.

Rules are off unless added. The first rule (in the order added) that matches a request and fires
wins; a rule may carry both a latency and an error.

    injector.add(FaultRule(service="lambda", function_name="etl", error="lambda_throttle", count=2))
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lambdapipe_local.admin.fault_responses import ERROR_KINDS
from lambdapipe_local.front.aws_request import AwsRequest
from lambdapipe_local.front.service_models import available_services, check_operation


class FaultRuleError(ValueError):
    """A fault rule that cannot be applied as written."""


@dataclass(frozen=True, kw_only=True)
class FaultRule:
    """Which calls to disturb and how.

    service: boto3 client name ("lambda", "s3", "dynamodb", "sqs", "sns", ...).
    operation: API operation name as in the AWS docs ("Invoke", "PutObject"); None for any.
    function_name: bare Lambda function name; matches every version and alias.
    error: one of ERROR_KINDS, or None for a latency-only rule.
    rate: probability (0..1) that a matching call is hit; `seed` makes the draws repeatable.
    count: the rule expires after this many hits; None for no limit.
    latency_ms: delay added before the call (and before the error, if any).
    """

    service: str
    operation: str | None = None
    function_name: str | None = None
    error: str | None = None
    rate: float = 1.0
    count: int | None = None
    latency_ms: float = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        _require(isinstance(self.service, str) and self.service, "service must be a non-empty string")
        _require(
            self.service in available_services(),
            f"unknown service {self.service!r}: use a boto3 client name such as 'lambda', 's3' or 'sqs'",
        )
        if self.operation is not None:
            _require(isinstance(self.operation, str), f"operation must be a string, got {self.operation!r}")
            try:
                check_operation(self.service, self.operation)
            except ValueError as error:
                raise FaultRuleError(f"fault rule: {error}") from None
        if self.function_name is not None:
            _require(self.service == "lambda", "function_name only applies to service 'lambda'")
            _require(
                isinstance(self.function_name, str) and self.function_name and ":" not in self.function_name,
                f"function_name must be a bare function name (no ARN or qualifier), got {self.function_name!r}",
            )
        self._check_error()
        _require(
            _is_number(self.rate) and 0 <= self.rate <= 1, f"rate must be between 0 and 1, got {self.rate!r}"
        )
        _require(
            self.count is None or (_is_int(self.count) and self.count >= 1),
            f"count must be a positive integer or None, got {self.count!r}",
        )
        _require(
            _is_number(self.latency_ms) and self.latency_ms >= 0,
            f"latency_ms must be a number >= 0, got {self.latency_ms!r}",
        )
        _require(
            self.seed is None or _is_int(self.seed), f"seed must be an integer or None, got {self.seed!r}"
        )
        _require(
            self.error is not None or self.latency_ms > 0,
            "a fault rule needs an error, a latency_ms, or both",
        )

    def _check_error(self) -> None:
        if self.error is None:
            return
        kind = ERROR_KINDS.get(self.error)
        if kind is None:
            raise FaultRuleError(
                f"fault rule: unknown error {self.error!r}; choose one of {sorted(ERROR_KINDS)}"
            )
        _require(
            kind.services is None or self.service in kind.services,
            f"error {self.error!r} applies to {sorted(kind.services or ())}, not to service {self.service!r}",
        )
        _require(
            kind.operations is None or self.operation is None or self.operation in kind.operations,
            f"error {self.error!r} applies only to {sorted(kind.operations or ())}, not to {self.operation!r}",
        )

    def applies_to(self, request: AwsRequest) -> bool:
        """Whether the request is one this rule targets (before rate and count)."""
        kind = ERROR_KINDS[self.error] if self.error else None
        return (
            request.service == self.service
            and self.operation in (None, request.operation)
            and self.function_name in (None, request.function_name)
            and (kind is None or kind.operations is None or request.operation in kind.operations)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from JSON-like data, naming any key that is not a rule field."""
        _require(isinstance(data, Mapping), f"a fault rule must be a JSON object, got {type(data).__name__}")
        names = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - names)
        _require(not unknown, f"unknown fault rule field(s) {unknown}; allowed: {sorted(names)}")
        _require("service" in data, "a fault rule needs a 'service'")
        return cls(**data)


def _require(condition: object, message: str) -> None:
    if not condition:
        raise FaultRuleError(f"fault rule: {message}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class ActiveFault:
    """An installed rule and how often it has fired so far."""

    id: str
    rule: FaultRule
    hits: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule.to_dict(), "hits": self.hits}


@dataclass
class _Installed:
    rule: FaultRule
    rng: random.Random = field(init=False)
    hits: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.rule.seed)


class FaultInjector:
    """The installed fault rules; safe to use from the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._installed: dict[str, _Installed] = {}

    def add(self, rule: FaultRule) -> str:
        """Install a rule; returns its id."""
        fault_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._installed[fault_id] = _Installed(rule)
        return fault_id

    def remove(self, fault_id: str) -> bool:
        """Uninstall one rule; False if no rule has that id (it may have expired)."""
        with self._lock:
            return self._installed.pop(fault_id, None) is not None

    def clear(self) -> int:
        """Uninstall every rule; returns how many there were."""
        with self._lock:
            removed = len(self._installed)
            self._installed.clear()
        return removed

    def rules(self) -> list[ActiveFault]:
        with self._lock:
            return [ActiveFault(fault_id, item.rule, item.hits) for fault_id, item in self._installed.items()]

    def match(self, request: AwsRequest) -> FaultRule | None:
        """The rule that fires for this request, if any; counts the hit and expires spent rules."""
        with self._lock:
            for fault_id, item in self._installed.items():
                if not item.rule.applies_to(request):
                    continue
                if item.rule.rate < 1 and item.rng.random() >= item.rule.rate:
                    continue
                item.hits += 1
                if item.rule.count is not None and item.hits >= item.rule.count:
                    del self._installed[fault_id]
                return item.rule
        return None
