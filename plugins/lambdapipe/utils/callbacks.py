"""Task callbacks: sensors that consume queue messages delete them from a callback, after the task ended."""

from __future__ import annotations

from typing import Any


def as_callback_list(callbacks: Any) -> list[Any]:
    """A task's callback argument (None, one callable or a list) as a list, to append one of ours."""
    if callbacks is None:
        return []
    return list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
