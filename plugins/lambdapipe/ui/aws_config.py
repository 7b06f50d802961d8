"""How the Lambda view's AWS calls behave: they run in the API server's shared threadpool.

botocore's defaults (60 s connect and read timeouts, up to 5 attempts) let a few page loads against
a slow or unreachable endpoint hold the threads every API request needs for minutes; here a page
fails with a 502 after at most two short attempts instead.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 10
MAX_ATTEMPTS = 2  # the first try and one retry


def ui_botocore_config() -> Any:
    """A botocore ``Config`` for the view's Lambda and CloudWatch Logs clients."""

    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
