"""Request and trace ids for local invocations, generated cheaply.

``uuid.uuid4()`` reads the kernel's entropy pool on every call, which showed up as a top cost of an
invocation on these VMs; ids only need to be unique, not secret.
"""

from __future__ import annotations

import os
import random
import time
import uuid

_random = random.Random(os.urandom(32))


def request_id() -> str:
    """A version-4 UUID string, like Lambda's request ids."""
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


def trace_id() -> str:
    """An X-Ray trace header in AWS's format (Root=1-<epoch hex>-<24 hex>), never sampled locally."""
    return f"Root=1-{int(time.time()):08x}-{_random.getrandbits(96):024x};Parent={_random.getrandbits(64):016x};Sampled=0"
