"""What Airflow keeps of a rendered payload: a summary, unless it is small or the task asks to keep it.

Airflow stores every rendered template field in its metadata DB and shows it on the task's "Rendered
Template" tab, cut only at ``[core] max_templated_field_length`` and masked only for secrets it
knows. A payload is data (orders, personal details), so the invoke and map operators store a summary
(size and sha256, like their logs) for a payload above ``KEPT_IN_FULL_BYTES`` or one the task marks
sensitive, and keep it in full only when asked:

    store_rendered_payload="auto"     small payloads in full, larger ones as a summary (the default)
    store_rendered_payload="summary"  always a summary: the payload is sensitive
    store_rendered_payload="full"     always in full (Airflow's own masking and cut still apply)

The rendered value stays on the task inside a ``RenderedPayload``: Airflow serializes a template
field through its ``serialize()``, which gives the summary, and the operator reads ``.value``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

KEPT_IN_FULL_BYTES = 1024
POLICIES = ("auto", "summary", "full")


class RenderedPayload:
    """A rendered payload that Airflow's rendered-field store sees only as its summary."""

    __slots__ = ("summary", "value")

    def __init__(self, value: Any, summary: str) -> None:
        self.value = value
        self.summary = summary

    def serialize(self) -> str:
        return self.summary

    def __str__(self) -> str:
        return self.summary

    __repr__ = __str__


def check_policy(policy: str) -> str:
    """The policy if it is one of ``POLICIES``; a ValueError naming the choices otherwise."""
    if policy not in POLICIES:
        raise ValueError(f"store_rendered_payload must be one of {POLICIES}, not {policy!r}")
    return policy


def _size_and_digest(value: Any) -> tuple[int, str]:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    body = text.encode("utf-8", errors="replace")
    return len(body), hashlib.sha256(body).hexdigest()[:16]


def kept_form(value: Any, field: str, policy: str) -> Any:
    """``value`` itself when the policy keeps it in full, else a ``RenderedPayload`` with its summary."""
    if value is None or isinstance(value, RenderedPayload) or policy == "full":
        return value
    size, digest = _size_and_digest(value)
    if policy == "auto" and size <= KEPT_IN_FULL_BYTES:
        return value
    reason = "sensitive" if policy == "summary" else f"above {KEPT_IN_FULL_BYTES} bytes"
    summary = f"<{field} not stored ({reason}): {size} bytes, sha256 {digest}; store_rendered_payload='full' keeps it>"
    return RenderedPayload(value, summary)


def rendered_value(value: Any) -> Any:
    """The payload itself, whether or not it was wrapped for storage."""
    return value.value if isinstance(value, RenderedPayload) else value


class StoresRenderedPayloadSummary:
    """Operator mixin: once rendered, each of ``payload_fields`` holds its kept form.

    Airflow renders a task, mapped or not, through ``_do_render_template_fields`` with the task as
    ``parent`` (a mapped task is unmapped first, and its rendering calls this method on purpose so
    operators can extend it); nested objects come through with themselves as ``parent``.
    """

    payload_fields: tuple[str, ...] = ()
    store_rendered_payload: str = "auto"

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)  # type: ignore[misc]
        if parent is self:
            for field in self.payload_fields:
                setattr(self, field, kept_form(getattr(self, field), field, self.store_rendered_payload))
