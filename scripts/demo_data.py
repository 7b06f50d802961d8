"""Put the demo's AWS resources and sample data in place on a running stack (``make run``/``make demo``).

Runs the same idempotent scripts the tests use, as subprocesses with the stack's environment:
``include/demo_infrastructure.py`` (buckets, queues, topics, tables, functions deployed through the
deploy path), then the sample generators (uploads into ``incoming/``, orders into DynamoDB).
"""

from __future__ import annotations

import os
import subprocess
import sys

import devstack

STEPS = (
    ("infrastructure and function deploys", ["include/demo_infrastructure.py"]),
    ("sample uploads", ["include/sample_uploads.py", "--count", "12", "--prefix", "demo"]),
    ("sample orders", ["include/sample_orders.py", "--count", "500"]),
)


class DemoDataError(RuntimeError):
    """A preparation step failed; the message names it and carries its output's tail."""


def prepare(settings: devstack.Settings) -> None:
    env = {**os.environ, **settings.environment()}
    for what, argv in STEPS:
        print(f"devstack: {what}", flush=True)
        result = subprocess.run(
            [sys.executable, *argv], cwd=devstack.REPO, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
            raise DemoDataError(f"{what} failed (exit {result.returncode}):\n{tail}")
