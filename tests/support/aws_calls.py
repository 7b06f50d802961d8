"""Which AWS calls a test or benchmark saw change something: the local stack's call counts, read."""

from __future__ import annotations

from lambdapipe_local.admin.calls import CallCounts

# Operation-name prefixes of every AWS call that changes something (or runs code) in any service.
WRITE_PREFIXES = (
    "Create",
    "Update",
    "Put",
    "Publish",
    "Delete",
    "Attach",
    "Detach",
    "Add",
    "Remove",
    "Tag",
    "Untag",
    "Upload",
    "Invoke",
)


def is_write_call(key: str) -> bool:
    """True for a ``service:Operation`` call-count key of a write (not for per-function keys)."""
    return key.count(":") == 1 and key.split(":")[1].startswith(WRITE_PREFIXES)


def write_calls(counts: CallCounts) -> dict[str, int]:
    """The ``service:Operation`` write calls in a snapshot; ``{}`` when the server only served reads."""
    return {key: count for key, count in counts.calls.items() if is_write_call(key)}
