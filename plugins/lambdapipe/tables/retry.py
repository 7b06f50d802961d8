"""Retry a table change that lost a race with another writer, against the table's fresh metadata.

pyiceberg retries a conflicting commit itself when it can rebase it safely (two appends). When it
cannot, e.g. another writer added rows matching our overwrite filter, it raises
``ValidationException`` (or ``CommitFailedException`` when its own retries ran out). Neither
commit landed, so the change is planned again from scratch on the refreshed table: the overwrite
then sees, and replaces, what the other writer committed.

A 5xx from S3 is retried too: pyarrow's S3 filesystem, which pyiceberg reads and writes through,
does not retry one (with 50% of S3 calls answered 500, reads failed about as often with
``max_attempts=10`` as without), and under a chaos run's 5% of S3 5xx a commit touches enough
objects that a task failed three tries in a row on them.
"""

from __future__ import annotations

import logging
import random
import re
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
# How pyarrow words an S3 answer worth trying again: a 5xx, throttling, or a dropped connection.
_TRANSIENT_S3 = re.compile(
    r"AWS Error (INTERNAL_FAILURE|SERVICE_UNAVAILABLE|SLOW_DOWN|THROTTLING|NETWORK_CONNECTION"
    r"|REQUEST_TIMEOUT|UNKNOWN \(HTTP status 5\d\d\))"
)


def is_transient_storage_error(error: BaseException) -> bool:
    """An S3 error from pyarrow that a later attempt may not meet (nothing was written by it)."""
    return isinstance(error, OSError) and bool(_TRANSIENT_S3.search(str(error)))


def retry_transient_io(call: Callable[[], T], *, what: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> T:
    """``call()``, again after a backoff while it fails with a transient S3 error (a read, say)."""
    for attempt in range(1, max_attempts):
        try:
            return call()
        except OSError as error:
            if not is_transient_storage_error(error):
                raise
            _log_transient(what, attempt, max_attempts, error)
            time.sleep(_backoff(attempt + 1))
    return call()  # the last attempt: its error is the caller's


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
            time.sleep(_backoff(attempt))
            table.refresh()
        try:
            return change(table), attempt
        except OSError as error:
            if not is_transient_storage_error(error):
                raise
            last_error = error
            _log_transient(what, attempt, max_attempts, error)
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
        f"{what}: gave up after {max_attempts} attempts, each conflicted with a concurrent commit or met "
        "a transient S3 error; "
        f"nothing was committed. Last error: {last_error}"
    ) from last_error


def _backoff(attempt: int) -> float:
    """Seconds to wait before ``attempt`` (2, 3, ...): doubling from BACKOFF_S, jittered, capped."""
    return min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (attempt - 2)) * random.uniform(0.5, 1.5)


def _log_transient(what: str, attempt: int, max_attempts: int, error: OSError) -> None:
    log.info("%s: transient S3 error (attempt %d of %d): %s", what, attempt, max_attempts, error)
