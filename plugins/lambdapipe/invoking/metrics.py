"""What one Lambda invocation cost and how long it took, read from its REPORT line.

Prices live here, in one place: Lambda's public on-demand prices (us-east-1) per GB-second by
architecture plus a per-request charge. Override them for another region or a negotiated rate with
the settings ``[lambdapipe] price_gb_second_x86_64``, ``price_gb_second_arm64`` and
``price_per_request`` (USD; ``AIRFLOW__LAMBDAPIPE__PRICE_PER_REQUEST`` and so on in the environment),
or pass a ``LambdaPricing`` explicitly.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdapipe import settings

# https://aws.amazon.com/lambda/pricing/ (first pricing tier, us-east-1)
PRICE_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_REQUEST = 0.20 / 1_000_000

_REPORT_FIELD = re.compile(r"(?P<key>[A-Za-z ]+): (?P<value>[0-9.]+) (?P<unit>ms|MB)")


@dataclass(frozen=True)
class LambdaPricing:
    """USD prices; ``from_settings()`` applies the ``[lambdapipe] price_*`` overrides."""

    gb_second: dict[str, float] = field(default_factory=lambda: dict(PRICE_GB_SECOND))
    per_request: float = PRICE_PER_REQUEST

    @classmethod
    def from_settings(cls) -> LambdaPricing:
        gb_second = dict(PRICE_GB_SECOND)
        for architecture in gb_second:
            override = settings.get_float(f"price_gb_second_{architecture}")
            if override is not None:
                gb_second[architecture] = override
        per_request = settings.get_float("price_per_request")
        return cls(gb_second=gb_second, per_request=PRICE_PER_REQUEST if per_request is None else per_request)

    def cost(self, billed_duration_ms: float, memory_size_mb: int, architecture: str = "x86_64") -> float:
        gb_seconds = (billed_duration_ms / 1000) * (memory_size_mb / 1024)
        return gb_seconds * self.gb_second.get(architecture, self.gb_second["x86_64"]) + self.per_request


@dataclass(frozen=True)
class ReportMetrics:
    """The numbers of a REPORT line; ``init_duration_ms`` is None on a warm start."""

    duration_ms: float
    billed_duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None

    @property
    def cold_start(self) -> bool:
        return self.init_duration_ms is not None


def parse_report(log_text: str | None) -> ReportMetrics | None:
    """Find the last REPORT line in a log tail; None if the tail has none (e.g. logs disabled)."""
    if not log_text:
        return None
    lines = [line for line in log_text.splitlines() if line.startswith("REPORT RequestId:")]
    if not lines:
        return None
    values = {m["key"].strip(): float(m["value"]) for m in _REPORT_FIELD.finditer(lines[-1])}
    try:
        return ReportMetrics(
            duration_ms=values["Duration"],
            billed_duration_ms=values["Billed Duration"],
            memory_size_mb=int(values["Memory Size"]),
            max_memory_used_mb=int(values["Max Memory Used"]),
            init_duration_ms=values.get("Init Duration"),
        )
    except KeyError:
        return None


@dataclass(frozen=True)
class InvocationRecord:
    """One row of the ``lambda_invocations`` table: every invocation our operators make yields one."""

    function_name: str
    qualifier: str | None
    executed_version: str | None
    request_id: str
    status: str  # success | function_error | throttled | timeout | error
    error_type: str | None
    duration_ms: float | None
    billed_duration_ms: float | None
    init_duration_ms: float | None
    memory_size_mb: int | None
    max_memory_used_mb: int | None
    cost_usd: float | None
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    map_index: int | None
    try_number: int | None
    invoked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskIdentity:
    """Which Airflow task instance made an invocation (all None outside Airflow)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None

    @classmethod
    def from_context(cls, context: Any) -> TaskIdentity:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            ti.dag_id, ti.run_id, ti.task_id, None if map_index in (None, -1) else map_index, ti.try_number
        )


def invocation_record(
    *,
    function_name: str,
    qualifier: str | None,
    executed_version: str | None,
    request_id: str,
    status: str,
    error_type: str | None,
    report: ReportMetrics | None,
    architecture: str,
    task: TaskIdentity,
    pricing: LambdaPricing,
) -> InvocationRecord:
    cost = (
        pricing.cost(report.billed_duration_ms, report.memory_size_mb, architecture)
        if report is not None
        else None
    )
    return InvocationRecord(
        function_name=function_name,
        qualifier=qualifier,
        executed_version=executed_version,
        request_id=request_id,
        status=status,
        error_type=error_type,
        duration_ms=report.duration_ms if report else None,
        billed_duration_ms=report.billed_duration_ms if report else None,
        init_duration_ms=report.init_duration_ms if report else None,
        memory_size_mb=report.memory_size_mb if report else None,
        max_memory_used_mb=report.max_memory_used_mb if report else None,
        cost_usd=cost,
        dag_id=task.dag_id,
        run_id=task.run_id,
        task_id=task.task_id,
        map_index=task.map_index,
        try_number=task.try_number,
    )
