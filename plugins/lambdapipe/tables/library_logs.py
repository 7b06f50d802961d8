"""pyiceberg's log lines on a healthy run, at the level they deserve.

A normal ``record_uploads`` logged ~30 ``Loaded FileIO`` INFO lines (one per catalog and table
load) and a WARNING for each commit pyiceberg retried after a concurrent commit, which is expected
when two runs commit to one table. Each is demoted on its own logger, so only these lines change:
``Loaded FileIO`` to DEBUG, the retried commit to INFO.
"""

from __future__ import annotations

import logging

# (logger, start of the message's format string, level it is logged at instead)
DEMOTED = (
    ("pyiceberg.io", "Loaded FileIO", logging.DEBUG),
    ("pyiceberg.table", "Commit failed due to a concurrent update, retrying", logging.INFO),
)


class DemoteFilter(logging.Filter):
    """Logs records whose format string starts with ``prefix`` at ``level`` (or drops them when the
    logger is not enabled for that level)."""

    def __init__(self, prefix: str, level: int) -> None:
        super().__init__()
        self.prefix = prefix
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix) or record.levelno <= self.level:
            return True
        if not logging.getLogger(record.name).isEnabledFor(self.level):
            return False
        record.levelno = self.level
        record.levelname = logging.getLevelName(self.level)
        return True


def demote_healthy_run_lines() -> None:
    """Install the filters once per process (importing ``lambdapipe.tables.catalog`` does)."""
    for logger_name, prefix, level in DEMOTED:
        logger = logging.getLogger(logger_name)
        if not any(isinstance(f, DemoteFilter) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(DemoteFilter(prefix, level))
