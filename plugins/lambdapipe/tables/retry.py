"""Retry a table change that lost a race with another writer, against the table's fresh metadata.

pyiceberg retries a conflicting commit itself when it can rebase it safely (two appends). When it
cannot, e.g. another writer added rows matching our overwrite filter, it raises
``ValidationException`` (or ``CommitFailedException`` when its own retries ran out). Neither
commit landed, so the change is planned again from scratch on the refreshed table: the overwrite
then sees, and replaces, what the other writer committed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pyiceberg.exceptions import CommitFailedException, ValidationException

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0


class CommitConflictError(RuntimeError):
    """Every attempt conflicted with a concurrent commit; nothing was committed."""


def retry_on_conflict(
    table: Table, change: Callable[[Table], T], *, what: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> tuple[T, int]:
    """Run ``change(table)``; on a commit conflict, back off, refresh and run it again.

    The first attempt uses ``table`` as loaded (its metadata is the caller's starting point);
    returns the change's result and the number of attempts it took.
    """

    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    last_error: Exception | None = None
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            delay = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (attempt - 2)) * random.uniform(0.5, 1.5)
            time.sleep(delay)
            table.refresh()
        try:
            return change(table), attempt
        except (CommitFailedException, ValidationException) as error:
            last_error = error
            log.info(  # expected when runs commit to one table at once; the give-up below is the error
                "%s: conflicted with a concurrent commit (attempt %d of %d): %s",
                what,
                attempt,
                max_attempts,
                error,
            )
    raise CommitConflictError(
        f"{what}: gave up after {max_attempts} attempts, each conflicted with a concurrent commit; "
        f"nothing was committed. Last error: {last_error}"
    ) from last_error
