"""Connection arguments for ``make run``'s SQLite metadata database.

SQLite lets one writer in at a time and sqlite3 gives up after 5 s by default: on a busy laptop (the
scheduler, the triggerer, tasks and the UI all writing) a UI request then fails with HTTP 500
"Database error". Waiting up to 30 s for the lock instead keeps the demo answering under load.
Named by ``[database] sql_alchemy_connect_args`` (and ``_async``) in ``scripts/devstack.py``.
"""

from __future__ import annotations

from typing import Any

SQLITE_LOCK_TIMEOUT_SECONDS = 30

SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}
SQLITE_CONNECT_ARGS_ASYNC: dict[str, Any] = {"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}
